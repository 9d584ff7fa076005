import AppSpec
import SlipwayModel
import Testing

@Suite("EC2/on-premises AppSpec")
struct ServerAppSpecTests {
    private func server(_ text: String, options: AppSpecParseOptions = AppSpecParseOptions()) throws -> ServerAppSpec {
        let result = AppSpec.parse(text, options: options)
        return try #require(try result.get().server, "\(result.diagnostics)")
    }

    @Test("the smallest AppSpec needs only version and os")
    func minimal() throws {
        let spec = try server("version: 0.0\nos: linux\n")
        #expect(spec == ServerAppSpec(os: .linux))
        #expect(spec.hooks.isEmpty)
    }

    @Test("an unquoted mode 0644 means 644, not YAML 1.1's octal 420")
    func unquotedModeIsReadAsWritten() throws {
        let spec = try server("version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    mode: 0644\n")
        #expect(spec.permissions[0].mode == FileMode(bits: 0o644))
        #expect(spec.permissions[0].mode?.description == "644")
    }

    @Test("an unquoted mode 0755, which the stock agent refuses as 493, means 755")
    func unquotedMode0755() throws {
        let spec = try server("version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    mode: 0755\n")
        #expect(spec.permissions[0].mode == FileMode(bits: 0o755))
    }

    @Test("a short mode is padded to three digits and a four-digit mode keeps its special bits")
    func modePadding() throws {
        #expect(try FileMode.parse("7").get() == FileMode(bits: 0o007))
        #expect(try FileMode.parse("4755").get().description == "4755")
        #expect(throws: FileModeError.length("")) { try FileMode.parse("").get() }
    }

    @Test("a script's timeout defaults to 3600 seconds, and it runs as the agent's user without sudo")
    func scriptDefaults() throws {
        let spec = try server("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n")
        #expect(
            spec.scripts(for: .afterInstall) == [HookScript(location: "a.sh", timeout: 3600, runas: nil, sudo: false)])
    }

    @Test("an event's scripts keep their file order, and the event's longest duration is the sum of their timeouts")
    func scriptsInOrder() throws {
        let spec = try server(
            """
            version: 0.0
            os: linux
            hooks:
              AfterInstall:
                - location: first.sh
                  timeout: 100
                  runas: app
                - location: second.sh
                  timeout: 20
                  sudo: yes
            """
        )
        #expect(spec.scripts(for: .afterInstall).map(\.location) == ["first.sh", "second.sh"])
        #expect(spec.scripts(for: .afterInstall)[0].runas == "app")
        #expect(spec.scripts(for: .afterInstall)[1].sudo)
        #expect(spec.maximumDuration(of: .afterInstall) == 120)
        #expect(spec.maximumDuration(of: .beforeInstall) == 0)
        #expect(spec.scripts(for: .beforeInstall).isEmpty)
    }

    @Test("every scriptable event of the catalogue is read, and listed in deployment order")
    func everyScriptableEvent() throws {
        let events = LifecycleEvent.serverHooks.reversed()
        let hooks = events.map { "  \($0.rawValue):\n    - location: \($0.rawValue).sh" }.joined(separator: "\n")
        let spec = try server("version: 0.0\nos: linux\nhooks:\n\(hooks)\n")
        #expect(Set(spec.hooks.keys) == Set(LifecycleEvent.serverHooks))
        #expect(spec.hookedEvents == LifecycleEvent.inPlaceOrder(withLoadBalancer: true).filter(\.isServerHook))
    }

    @Test("the SELinux user may be given as name, as the stock agent reads it, or as user, as AWS documents it")
    func selinuxUser() throws {
        for key in ["name", "user"] {
            let spec = try server(
                "version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    context:\n      \(key): system_u\n"
                    + "      type: httpd_sys_content_t\n"
            )
            #expect(spec.permissions[0].context == SELinuxContext(user: "system_u", type: "httpd_sys_content_t"))
        }
    }

    @Test("a permission without pattern or type applies to files and directories at any depth")
    func permissionDefaults() throws {
        let spec = try server("version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    owner: app\n")
        #expect(spec.permissions == [Permission(object: "/srv", owner: "app")])
        #expect(spec.permissions[0].pattern == "**")
        #expect(spec.permissions[0].types == [.file, .directory])
    }

    @Test("a JSON AppSpec is read like YAML")
    func json() throws {
        let spec = try server(
            #"{"version": 0.0, "os": "windows", "files": [{"source": "a", "destination": "C:\\app"}]}"#)
        #expect(spec.os == .windows)
        #expect(spec.files == [FileMapping(source: "a", destination: "C:\\app")])
    }

    @Test("a byte-order mark and CRLF line endings are accepted")
    func byteOrderMarkAndCRLF() throws {
        let bytes: [UInt8] =
            [0xEF, 0xBB, 0xBF] + Array("version: 0.0\r\nos: linux\r\nfile_exists_behavior: RETAIN\r\n".utf8)
        let spec = try #require(try AppSpec.parse(bytes: bytes).get().server)
        #expect(spec.fileExistsBehavior == .retain)
    }

    @Test("the host's operating system, when given, must be the one the AppSpec targets")
    func hostOperatingSystem() {
        let windows = AppSpec.parse(
            "version: 0.0\nos: windows\n", options: AppSpecParseOptions(operatingSystem: .windows))
        #expect(windows.isValid)
        let linux = AppSpec.parse("version: 0.0\nos: windows\n", options: AppSpecParseOptions(operatingSystem: .linux))
        #expect(
            linux.errors.map(\.message) == [
                "unsupported operating system (windows): the deployment is targeting linux hosts"
            ])
    }

    @Test("an unknown top-level key is a warning, not an error, and not silently ignored")
    func unknownKeyWarns() {
        let result = AppSpec.parse("version: 0.0\nos: linux\nfoo: bar\n")
        #expect(result.isValid)
        #expect(result.warnings.map(\.path) == ["foo"])
    }

    @Test("all errors of a file are reported at once, each with its field path and line:column")
    func collectsEveryError() {
        let result = AppSpec.parse(
            "version: 2\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 0\n    - sudo: true\n"
        )
        #expect(
            result.errors.map(\.description) == [
                "1:10: error: version: invalid version value (2): make sure the AppSpec file specifies \"0.0\" as the version",
                "6:16: error: hooks.AfterInstall[0].timeout: invalid timeout value (0): a timeout is a whole number of seconds greater than 0",
                "7:7: error: hooks.AfterInstall[1].location: the AppSpec file specifies a script with no location value",
            ]
        )
    }

    @Test("the platform is told from the document unless the caller names it")
    func platformDetection() {
        #expect(AppSpec.parse("version: 0.0\nos: linux\n").appSpec?.computePlatform == .server)
        let forced = AppSpec.parse("version: 0.0\nos: linux\n", options: AppSpecParseOptions(computePlatform: .lambda))
        #expect(forced.errors.map(\.path) == ["resources"])
    }

    @Test("the summary lists file mappings and each event with its scripts")
    func summary() throws {
        let spec = try AppSpec.parse(
            "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv\nhooks:\n  ApplicationStart:\n"
                + "    - location: start.sh\n      timeout: 30\n      runas: app\n"
        ).get()
        #expect(
            spec.summary == """
                EC2/on-premises AppSpec, os linux
                file_exists_behavior: not set (the deployment's setting, else DISALLOW)
                files:
                  app -> /srv
                hooks:
                  ApplicationStart (1 script, at most 30 s)
                    start.sh  timeout 30 s, runas app
                """
        )
    }
}
