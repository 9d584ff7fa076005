import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The external programs permissions need (`setfacl`, `semanage`, `restorecon`): no library sets ACLs or SELinux
/// file contexts portably, so the installer runs them as the stock agent does, but with arguments passed as a list,
/// never through a shell.
enum InstallTools {
    /// The full path of an executable program, searched in `PATH` and then in the system directories where
    /// administration tools live (an agent started by a service manager may have a short `PATH`).
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0, !InstallFileSystem.isDirectoryFollowingLinks(candidate) {
                return candidate
            }
        }
        return nil
    }

    /// Runs a short program to completion: its exit status and what it wrote to standard output and error.
    /// (Foundation's `Process` suits these: they are not hook scripts and are never signalled.)
    static func run(_ executable: String, _ arguments: [String]) throws(InstallError) -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw InstallError("The deployment failed because the agent could not run \(executable): \(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (process.terminationStatus, text)
    }
}

/// User and group names to IDs, through the reentrant lookups (installs may run on several threads).
enum InstallAccounts {
    /// The ID of a user name, or of a numeric ID written as digits; `nil` when the host has no such user.
    static func userID(_ name: String) -> uid_t? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        if getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil { return entry.pw_uid }
        return numericID(name)
    }

    /// The ID of a group name, or of a numeric ID written as digits; `nil` when the host has no such group.
    static func groupID(_ name: String) -> gid_t? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        if getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil { return entry.gr_gid }
        return numericID(name)
    }

    private static func numericID(_ text: String) -> UInt32? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt32(text)
    }
}
