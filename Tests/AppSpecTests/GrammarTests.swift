import AppSpec
import Testing

@Suite("ACL entries and SELinux ranges")
struct GrammarTests {
    @Test(
        "named user and group entries, masks and default base entries are accepted",
        arguments: [
            "u:bob:rw", "user:bob:rwx", "g:ops:r", "group:ops:4", "m::rw", "mask:r", "d:u::rwx", "default:g::r",
            "d:o::r", "d:m::rwx", "d:u:bob:rw", "u:bob:-", "u:bob:7", "u:bob:", "u:bob:rrw", "g:ops:xwr",
        ])
    func validACL(_ text: String) {
        #expect((try? ACLEntry.parse(text).get()) != nil)
    }

    @Test("base entries without default must use mode instead")
    func baseEntries() {
        for text in ["u::rw", "g::r", "o::r", "o:r"] {
            #expect(throws: ACLEntryError(entry: text, reason: "Use mode to set the base acl entry")) {
                try ACLEntry.parse(text).get()
            }
        }
    }

    @Test(
        "malformed entries are refused with the reason",
        arguments: [
            "rw", "u:bob:rw:x:y", "x:bob:rw", "u:bob:rwz", "u:bob:8", "m:bob:rw", "o:bob:r", "u:d:bob:rw",
            "d:d:bob:rw", "default:default::rw", "g:u:bob:rw", "d:x:bob:r", "", ":", ":::", "u:bob:77", "u:bob:r w",
        ])
    func invalidACL(_ text: String) {
        #expect(throws: ACLEntryError.self) { try ACLEntry.parse(text).get() }
    }

    @Test(
        "the stock agent's short forms are read as it reads them",
        arguments: [
            ("bob:6", false, ACLEntry.Tag.user, "bob", "6"),
            ("mask:", false, .mask, nil, ""),
            ("m:rw", false, .mask, nil, "rw"),
            ("d:bob:rwx", true, .user, "bob", "rwx"),
            ("default::rw", true, .user, nil, "rw"),
            ("d:o:3", true, .other, nil, "3"),
            ("default:mask:7", true, .mask, nil, "7"),
            ("d:g:ops:r-x", true, .group, "ops", "r-x"),
            ("u:bob:0", false, .user, "bob", "0"),
        ] as [(String, Bool, ACLEntry.Tag, String?, String)])
    func shortForms(_ text: String, _ isDefault: Bool, _ tag: ACLEntry.Tag, _ name: String?, _ permissions: String)
        throws
    {
        let entry = try ACLEntry.parse(text).get()
        #expect(entry.isDefault == isDefault && entry.tag == tag)
        #expect(entry.name == name && entry.permissions == permissions)
    }

    @Test("hostile ACL entries are refused with a reason, never crash")
    func hostileACL() {
        let entries = [
            "u:bob\u{0}:rw", "u:bob,u:root:rwx", "d:bob,g:rw", "u:bo b:rw", "u:bob:\u{1B}[31m", "u:bob:3\u{301}",
            "u:bob:\u{0}", "u:\u{7F}:r", String(repeating: "u:", count: 50_000) + "rw",
            "u:" + String(repeating: "b", count: 1 << 20) + ":rwx\u{0}",
            "u:bob:" + String(repeating: "r", count: 1 << 16) + "q",
        ]
        for text in entries {
            #expect(throws: ACLEntryError.self, "\(text.prefix(30).debugDescription)") {
                try ACLEntry.parse(text).get()
            }
        }
        #expect(
            (try? ACLEntry.parse("u:bob,u:root:rwx").get()) == nil,
            "a comma would let one entry carry another into setfacl's list")
    }

    @Test("an invalid ACL entry in an AppSpec is reported at its place in the file")
    func locatedACLError() {
        let result = AppSpec.parse(
            """
            version: 0.0
            os: linux
            permissions:
              - object: /srv/app
                acls:
                  - bob:6
                  - "u:bob:rwq"
            """)
        #expect(result.errors.count == 1)
        let error = result.errors.first
        #expect(error?.path == "permissions[0].acls[1]")
        #expect(error?.location?.line == 7)
        #expect(error?.message.contains("Invalid acl entry (u:bob:rwq)") == true)
    }

    @Test("an ACL entry is written back in setfacl's short form")
    func aclDescription() throws {
        #expect(try ACLEntry.parse("default:user:bob:rw").get().description == "d:u:bob:rw")
    }

    @Test(
        "sensitivity ranges and category lists are read",
        arguments: ["s0", "s0-s0", "s0-s15:c0.c1023", "s1:c0,c2.c5,c7"])
    func validRange(_ text: String) throws {
        #expect(try SELinuxRange.parse(text).get().description == text)
    }

    @Test(
        "a high level below the low one, categories above 1023, duplicates and bad syntax are refused",
        arguments: [
            "s2-s1", "s0:c1024", "s0:c1,c1", "s0:c0.c5,c3", "s0:c5.c1", "s0-", "0", "s0:", "s0:c", "sx", "s0:d1",
        ])
    func invalidRange(_ text: String) {
        #expect(throws: SELinuxRangeError.self) { try SELinuxRange.parse(text).get() }
    }
}
