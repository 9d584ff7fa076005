import ArgumentParser
import Foundation
import Server
import Store

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and delete access keys in a server's data directory.",
        discussion: """
            A key's role is a built-in policy: admin allows every action; deployer allows codedeploy:* and s3:*; \
            agent allows s3:Get* and s3:List* and the agent command API for the one on-premises instance it is \
            bound to. Keys of IAM users (made with `aws iam create-access-key`, or `aws deploy register`) are listed \
            too, with their user; their permissions are the user's inline policies.
            """,
        subcommands: [Create.self, List.self, Delete.self]
    )

    struct StoreOptions: ParsableArguments {
        @Option(help: "The server's data directory. (default: ~/.slipway)")
        var dataDir: String?

        @Option(help: "The database file. (default: <data-dir>/slipway.sqlite)")
        var database: String?

        /// The store with its access keys' secrets sealed under the data directory's key, as the server keeps them.
        func open() throws -> any Store {
            let directory =
                dataDir.map { NSString(string: $0).expandingTildeInPath }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".slipway").path
            let path = database ?? URL(fileURLWithPath: directory).appendingPathComponent("slipway.sqlite").path
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no Slipway database at \(path): start `slipway server` once, or give --data-dir")
            }
            return SealingStore(
                base: try SQLiteStore(path: path),
                sealer: try SecretSealer.loadOrCreate(dataDirectory: URL(fileURLWithPath: directory)))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an access key and print it.")

        @OptionGroup var store: StoreOptions

        @Option(help: "What the key may do: admin, deployer or agent.")
        var role: KeyRole

        @Option(help: "For --role agent: the registered on-premises instance the key acts for.")
        var instanceName: String?

        @Flag(help: "Print the key as IAM's CreateAccessKey result does.")
        var json = false

        func run() async throws {
            let key = try await AccessKeys.create(in: try store.open(), role: role, instanceName: instanceName)
            if json {
                let object: [String: Any] = [
                    "AccessKey": [
                        "AccessKeyId": key.accessKeyId, "SecretAccessKey": key.secretAccessKey, "Status": key.status,
                        "UserName": key.instanceName ?? role.rawValue,
                        "CreateDate": ISO8601DateFormatter().string(from: key.createTime),
                    ]
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("access key id:     \(key.accessKeyId)")
                print("secret access key: \(key.secretAccessKey)")
                print("role:              \(role.rawValue)" + (key.instanceName.map { " (instance \($0))" } ?? ""))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List access keys (without their secrets).")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            for key in try await AccessKeys.list(in: try store.open()) {
                let instance = key.instanceName.map { "  instance=\($0)" } ?? ""
                let owner = key.role?.rawValue ?? "user=\(key.userName ?? "?")"
                print("\(key.accessKeyId)  \(owner)  \(key.status)\(instance)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an access key; requests signed with it fail.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The access key id.")
        var accessKeyId: String

        func run() async throws {
            guard try await AccessKeys.delete(in: try store.open(), accessKeyId: accessKeyId) else {
                throw ValidationError("no access key \(accessKeyId) in this data directory")
            }
            print("deleted \(accessKeyId)")
        }
    }
}

extension KeyRole: ExpressibleByArgument {}
