import ArtifactStore
import Testing

/// A seeded mutation pass over the S3 XML request reader: the request bodies S3 clients send, truncated, with bits
/// flipped, with markup bytes inserted and with parts of each other spliced in. It stands in for a libFuzzer target
/// (see scripts/fuzz-requests.sh for why the reader is not in RequestFuzzer).
@Suite("XML request fuzzing")
struct XMLRequestFuzzTests {
    static let seeds = [
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b &lt;c&gt; &#x1F600;&#10;</Key>\
        </Object><Object><Key><![CDATA[d]]>e</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>
        """,
        """
        <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Part><PartNumber>1</PartNumber><ETag>"0123456789abcdef0123456789abcdef"</ETag></Part>
          <!-- a comment --><Part><PartNumber> 2 </PartNumber><ETag>&quot;fedcba&quot;</ETag></Part>
        </CompleteMultipartUpload>
        """,
        "<VersioningConfiguration xmlns='http://s3.amazonaws.com/doc/2006-03-01/'><Status>Enabled</Status>"
            + "<MfaDelete>Disabled</MfaDelete></VersioningConfiguration>",
        "\u{FEFF}<?xml version=\"1.0\"?><s3:CreateBucketConfiguration xmlns:s3=\"x\"><s3:LocationConstraint>"
            + "eu-west-1</s3:LocationConstraint><?pi data?></s3:CreateBucketConfiguration>",
        "<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o/></n></m></l></k></j></i></h></g></f></e></d></c></b></a>",
    ].map { Array($0.utf8) }

    /// Bytes that start or end markup, inserted where a mutation lands.
    static let markup = Array("<>/&;#x!?[]-='\" \n:".utf8)

    @Test("mutated request bodies parse or are refused as MalformedXML, and what parses writes back the same")
    func mutations() {
        var generator = Generator(seed: 0x584D_4C)
        var inputs = Self.seeds
        for seed in Self.seeds {
            for length in stride(from: 0, to: seed.count, by: 5) { inputs.append(Array(seed.prefix(length))) }
        }
        for _ in 0..<20_000 {
            var mutated = Self.seeds[Int(generator.next() % UInt64(Self.seeds.count))]
            for _ in 0..<Int(generator.next() % 6 + 1) {
                let index = Int(generator.next() % UInt64(mutated.count + 1))
                switch generator.next() % 5 {
                case 0 where index < mutated.count:
                    mutated[index] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
                case 1:
                    mutated.insert(Self.markup[Int(generator.next() % UInt64(Self.markup.count))], at: index)
                case 2 where index < mutated.count:
                    mutated.removeSubrange(index..<min(mutated.count, index + Int(generator.next() % 8 + 1)))
                case 3:
                    let donor = Self.seeds[Int(generator.next() % UInt64(Self.seeds.count))]
                    let start = Int(generator.next() % UInt64(donor.count))
                    let end = min(donor.count, start + Int(generator.next() % 40 + 1))
                    mutated.insert(contentsOf: donor[start..<end], at: index)
                default:
                    mutated.insert(
                        contentsOf: Array("&#".utf8) + Array(String(generator.next() % 0x11_0000).utf8), at: index)
                }
            }
            inputs.append(mutated)
        }

        var parsed = 0
        for input in inputs {
            let document: XMLRequestElement
            do {
                document = try XMLRequestParser.parse(input)
            } catch {
                #expect(error.code == "MalformedXML", "\(error)")
                continue
            }
            parsed += 1
            #expect(depth(of: document) <= XMLRequestParser.maximumDepth, "\(String(decoding: input, as: UTF8.self))")
            guard canBeWritten(document) else { continue }
            var writer = XMLWriter()
            write(document, to: &writer)
            let written = Array(writer.document.utf8)
            let reread = try? XMLRequestParser.parse(written)
            #expect(
                reread.map { sameDocument($0, document) } == true,
                "\(String(decoding: input, as: UTF8.self)) wrote back as \(writer.document)")
        }
        // The mutations are mild enough that a good share still parses, so the round trip is exercised.
        #expect(parsed > inputs.count / 20, "only \(parsed) of \(inputs.count) inputs parsed")
    }

    /// Whether `reread` is `original` written and read back: the same names and tree, and each text either the
    /// same or with the characters XML 1.0 cannot carry (C0 controls but tab, line feed and carriage return; U+FFFE,
    /// U+FFFF) replaced by U+FFFD, which is what the writer does with them.
    private func sameDocument(_ reread: XMLRequestElement, _ original: XMLRequestElement) -> Bool {
        let replaced = String(
            String.UnicodeScalarView(
                original.text.unicodeScalars.map { scalar in
                    let unwritable =
                        (scalar.value < 0x20 && !["\t", "\n", "\r"].contains(scalar))
                        || scalar.value == 0xFFFE || scalar.value == 0xFFFF
                    return unwritable ? "\u{FFFD}" : scalar
                }))
        return reread.name == original.name && (reread.text == original.text || reread.text == replaced)
            && reread.children.count == original.children.count
            && zip(reread.children, original.children).allSatisfy(sameDocument)
    }

    private func depth(of element: XMLRequestElement) -> Int {
        1 + (element.children.map(depth(of:)).max() ?? 0)
    }

    /// Whether every name can be written as a start tag that reads back as the same name: the reader strips a
    /// namespace prefix, which can leave a name empty (`<a:>`) or starting with `!` or `?` (`<a:!b>`), and repairs
    /// invalid UTF-8, which can make a name longer than the 256 bytes it reads.
    private func canBeWritten(_ element: XMLRequestElement) -> Bool {
        guard let first = element.name.utf8.first, first != UInt8(ascii: "!"), first != UInt8(ascii: "?"),
            element.name.utf8.count <= 256
        else { return false }
        return element.children.allSatisfy(canBeWritten)
    }

    /// Writes `element` with the writer S3 responses use: its text first, then its children (the reader joins an
    /// element's text wherever it appears among the children).
    private func write(_ element: XMLRequestElement, to writer: inout XMLWriter) {
        writer.open(element.name)
        writer.text(element.text)
        for child in element.children { write(child, to: &writer) }
        writer.close(element.name)
    }
}

/// SplitMix64: a small deterministic generator, so that every run mutates the same way and a failure replays.
private struct Generator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
