import AppSpec
import Testing

@Suite("ACL entries and SELinux ranges")
struct GrammarTests {
    @Test(
        "named user and group entries, masks and default base entries are accepted",
        arguments: [
            "u:bob:rw", "user:bob:rwx", "g:ops:r", "group:ops:4", "m::rw", "mask:r", "d:u::rwx", "default:g::r",
            "d:o::r", "d:m::rwx", "d:u:bob:rw", "u:bob:-", "u:bob:7",
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
            "rw", "u:bob:rw:x:y", "x:bob:rw", "u:bob:rwz", "u:bob:rrw", "u:bob:8", "u:bob:", "m:bob:rw", "o:bob:r",
        ])
    func invalidACL(_ text: String) {
        #expect(throws: ACLEntryError.self) { try ACLEntry.parse(text).get() }
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
