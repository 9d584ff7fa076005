import AppSpec
import Testing

@Suite("Which permissions apply to an installed object")
struct PermissionMatchingTests {
    private func spec(_ permissions: Permission...) -> ServerAppSpec {
        ServerAppSpec(os: .linux, permissions: permissions)
    }

    private func file(_ path: String) -> InstalledObject { InstalledObject(path: path, type: .file) }
    private func directory(_ path: String) -> InstalledObject { InstalledObject(path: path, type: .directory) }

    @Test("pattern ** applies to every copied file and created directory below the object, at any depth")
    func everythingBelow() {
        let permission = Permission(object: "/srv/app", owner: "app")
        #expect(permission.applies(to: file("/srv/app/index.html")))
        #expect(permission.applies(to: file("/srv/app/static/css/site.css")))
        #expect(permission.applies(to: directory("/srv/app/static")))
        #expect(!permission.applies(to: file("/srv/application.txt")))
        #expect(!permission.applies(to: file("/srv/other/x")))
    }

    @Test("a directory named as the object never gets its own permission; a copied file named as the object does")
    func objectItself() {
        let permission = Permission(object: "/srv/app/", mode: FileMode(bits: 0o755))
        #expect(!permission.applies(to: directory("/srv/app")))
        #expect(Permission(object: "/etc/app.conf").applies(to: file("/etc/app.conf")))
        #expect(!Permission(object: "/etc/app.conf", types: [.directory]).applies(to: file("/etc/app.conf")))
    }

    @Test("another pattern is a simple glob that matches direct children only")
    func simpleGlob() {
        let permission = Permission(object: "/srv/app", pattern: "*.sh")
        #expect(permission.applies(to: file("/srv/app/start.sh")))
        #expect(!permission.applies(to: file("/srv/app/bin/start.sh")))
        #expect(!permission.applies(to: file("/srv/app/start.py")))
        #expect(Permission(object: "/srv", pattern: "a*b*c").applies(to: file("/srv/aXbYc")))
        #expect(!Permission(object: "/srv", pattern: "a*a").applies(to: file("/srv/a")))
        #expect(Permission(object: "/srv", pattern: "[x]").applies(to: file("/srv/[x]")))
    }

    @Test("except leaves out direct children matching its globs")
    func except() {
        let permission = Permission(object: "/srv/app", except: ["*.key", "secret"])
        #expect(!permission.applies(to: file("/srv/app/tls.key")))
        #expect(!permission.applies(to: directory("/srv/app/secret")))
        #expect(permission.applies(to: file("/srv/app/secret/inner.key")))
        #expect(permission.applies(to: file("/srv/app/readme")))
    }

    @Test("type limits a permission to copied files or to created directories")
    func types() {
        let files = Permission(object: "/srv", types: [.file])
        #expect(files.applies(to: file("/srv/a")))
        #expect(!files.applies(to: directory("/srv/d")))
        let directories = Permission(object: "/srv", types: [.directory])
        #expect(directories.applies(to: directory("/srv/d")))
        #expect(!directories.applies(to: file("/srv/a")))
    }

    @Test("the object / covers the whole tree")
    func root() {
        #expect(Permission(object: "/").applies(to: file("/etc/x")))
    }

    @Test("a path that two entries match is an error, as in the stock agent's Install")
    func specifiedMoreThanOnce() throws {
        let spec = spec(Permission(object: "/srv"), Permission(object: "/srv/app"))
        #expect(throws: PermissionMatchError.self) { try spec.permission(for: file("/srv/app/x")) }
        #expect(try spec.permission(for: file("/srv/top")) == Permission(object: "/srv"))
        #expect(try spec.permission(for: file("/opt/x")) == nil)
        #expect(spec.permissions(for: file("/srv/app/x")).count == 2)
    }

    @Test("a copied file named as the object may not carry a pattern, except globs or default ACLs")
    func fileObjectWithPattern() throws {
        let withPattern = spec(Permission(object: "/etc/app.conf", pattern: "*.conf"))
        let error = #expect(throws: PermissionMatchError.self) {
            try withPattern.permission(for: file("/etc/app.conf"))
        }
        #expect(error?.reason.contains("such as a pattern for a file applied to a directory") == true)
        let defaultACL = try ACLEntry.parse("d:u:bob:rw").get()
        let withDefault = spec(Permission(object: "/etc/app.conf", acls: [defaultACL]))
        #expect(throws: PermissionMatchError.self) { try withDefault.permission(for: file("/etc/app.conf")) }
    }
}
