import AppSpec
import Testing

@Suite("Inline AppSpec content")
struct InlineContentTests {
    private let content =
        "version: 0.0\nresources:\n  - f:\n      type: AWS::Lambda::Function\n"
        + "      properties: {name: f, alias: live, currentversion: 1, targetversion: 2}\n"

    @Test("content whose SHA-256 matches the revision's is parsed, in either case of hex digits")
    func matchingDigest() {
        // The digest of `content`, computed independently with `sha256sum`.
        let digest = "6877dab4ef10ea492af74db863f1f48997d8d98ab57384cd236ff6de44771957"
        #expect(AppSpec.parseInline(content: content, sha256: digest).appSpec?.computePlatform == .lambda)
        #expect(AppSpec.parseInline(content: content, sha256: digest.uppercased()).isValid)
    }

    @Test("content whose SHA-256 differs from the revision's is refused before it is parsed")
    func mismatchingDigest() {
        let result = AppSpec.parseInline(content: content, sha256: String(repeating: "0", count: 64))
        #expect(!result.isValid)
        #expect(result.errors.count == 1)
        #expect(result.errors[0].message.hasPrefix("the AppSpec content does not match its SHA-256"))
    }

    @Test("content without a digest is parsed as it is")
    func noDigest() {
        #expect(AppSpec.parseInline(content: content, sha256: nil).appSpec?.computePlatform == .lambda)
        #expect(AppSpec.parseInline(content: content, sha256: "").isValid)
    }
}
