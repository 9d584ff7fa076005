import Foundation
import Testing

@testable import SigV4

/// The building blocks: encodings, canonical forms, timestamps, payload modes, the key cache.
@Suite struct CanonicalFormTests {
    @Test func uriEncodingKeepsOnlyUnreservedCharacters() {
        #expect(URIEncoding.encode("a b+c/d~e_f.g-h*i") == "a%20b%2Bc%2Fd~e_f.g-h%2Ai")
        #expect(URIEncoding.encode("a b/c", keepSlash: true) == "a%20b/c")
        #expect(URIEncoding.encode("✓") == "%E2%9C%93")
        #expect(URIEncoding.decode("a%20b+c%2", plusAsSpace: true) == "a b c%2")
        #expect(URIEncoding.decode("a%2fb+c", plusAsSpace: false) == "a/b+c")
    }

    @Test(arguments: [
        ("/test$file.text", "/test%24file.text"),
        ("/test%24file.text", "/test%24file.text"),
        ("/bucket/a%2Fb", "/bucket/a%2Fb"),
        ("/bucket//double/./dot/../x", "/bucket//double/./dot/../x"),
        ("/bucket/a+b%20c", "/bucket/a%2Bb%20c"),
        ("/bucket/caf%c3%a9", "/bucket/caf%C3%A9"),
        ("", "/"),
    ])
    func s3PathsAreEncodedOnceAndNotNormalised(path: String, canonical: String) {
        #expect(Canonical.uri(path: path, rule: .s3) == canonical)
    }

    @Test(arguments: [
        ("/a%20b/./c/../d", "/a%2520b/d"),
        ("//example//", "/example/"),
        ("/example/..", "/"),
        ("/a/b/", "/a/b/"),
        ("/ሴ", "/%E1%88%B4"),
        ("", "/"),
    ])
    func otherPathsAreNormalisedAndEncodedAgain(path: String, canonical: String) {
        #expect(Canonical.uri(path: path, rule: .normalized) == canonical)
    }

    @Test func theS3RuleCoversS3Variants() {
        #expect(PathCanonicalization.forService("s3") == .s3)
        #expect(PathCanonicalization.forService("s3-object-lambda") == .s3)
        #expect(PathCanonicalization.forService("codedeploy") == .normalized)
        #expect(PathCanonicalization.forService("iam") == .normalized)
    }

    @Test func queriesAreDecodedReEncodedAndSorted() {
        #expect(Canonical.query("b=2&a=z&a=y&flag&c=x%20y&d=%2b&e=p+q") == "a=y&a=z&b=2&c=x%20y&d=%2B&e=p%20q&flag=")
        #expect(Canonical.query("a=%7E&&b=/") == "a=~&b=%2F")
        #expect(Canonical.query("Z=1&a=1&_=1") == "Z=1&_=1&a=1")
        #expect(Canonical.query("X-Amz-Signature=abc&q=1", excluding: "X-Amz-Signature") == "q=1")
        #expect(Canonical.query("") == "")
    }

    @Test func headerValuesAreTrimmedAndWhitespaceFolded() {
        #expect(Canonical.foldWhitespace("  a \t b\n\n  c  ") == "a b c")
        #expect(Canonical.foldWhitespace("\"a   b\"") == "\"a b\"")
        let headers = [HTTPHeader("X-A", " one "), HTTPHeader("x-a", "two"), HTTPHeader("Host", "h")]
        let (block, missing) = Canonical.headerBlock(headers, signedNames: ["host", "x-a", "x-b"])
        #expect(block == "host:h\nx-a:one,two\nx-b:\n")
        #expect(missing == ["x-b"])
        #expect(Canonical.signableNames(headers + [HTTPHeader("User-Agent", "u")]) == ["host", "x-a"])
    }

    @Test func timestampsRoundTripWithoutDateFormatter() throws {
        let date = Date(timeIntervalSince1970: 1_440_938_160.9)
        #expect(AmzDate.timestamp(from: date) == "20150830T123600Z")
        #expect(AmzDate.date(fromTimestamp: "20150830T123600Z") == Date(timeIntervalSince1970: 1_440_938_160))
        #expect(AmzDate.timestamp(from: Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
        #expect(AmzDate.timestamp(from: Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(AmzDate.date(fromTimestamp: "20150230T123600Z") == nil)
        #expect(AmzDate.date(fromTimestamp: "2015-08-30T12:36:00Z") == nil)
        #expect(
            AmzDate.date(fromHTTPDate: "Fri, 24 May 2013 00:00:00 GMT") == Date(timeIntervalSince1970: 1_369_353_600))
        #expect(AmzDate.date(fromHTTPDate: "Friday, 24-May-13 00:00:00 GMT") == nil)
        // Only IMF-fixdate's widths: a longer year could not be written back as the timestamp that was signed.
        for text in [
            "Sat, 14 Mar 20260 09:26:53 GMT", "Fri, 24 May 20136 00:00:00 GMT", "Fri, 24 May 013 00:00:00 GMT",
            "Fri, 24 May 2013 9:26:53 GMT", "Fri, 4 May 2013 09:26:53 GMT", "Fri, 24 May 2013 09:26:053 GMT",
            "Fri, 24 May 2013 09::53 GMT",
        ] {
            #expect(AmzDate.date(fromHTTPDate: text) == nil, "\(text)")
        }
        for seconds in stride(from: -86_400 * 400, through: 4_102_444_800, by: 9_999_937) {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            #expect(AmzDate.date(fromTimestamp: AmzDate.timestamp(from: date)) == date)
        }
    }

    @Test func payloadDeclarationsAreRecognised() {
        let keywords: [(String, PayloadHash)] = [
            ("UNSIGNED-PAYLOAD", .unsigned),
            ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", .streamingSigned),
            ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", .streamingSignedWithTrailer),
            ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", .streamingUnsignedWithTrailer),
            ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", .streamingECDSA),
            ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER", .streamingECDSAWithTrailer),
            (PayloadHash.emptySHA256, .empty),
        ]
        for (text, payload) in keywords {
            #expect(PayloadHash(headerValue: text) == payload)
            #expect(payload.headerValue == text)
        }
        #expect(PayloadHash(headerValue: "unsigned-payload") == nil)
        #expect(PayloadHash(headerValue: String(PayloadHash.emptySHA256.dropLast())) == nil)
        #expect(
            PayloadHash.of(Data("Welcome to Amazon S3.".utf8))
                == .sha256("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"))
        #expect(PayloadHash.streamingSigned.hasSignedChunks && !PayloadHash.streamingSigned.hasTrailer)
        #expect(PayloadHash.streamingUnsignedWithTrailer.hasTrailer)
        #expect(!PayloadHash.streamingUnsignedWithTrailer.hasSignedChunks)
        #expect(!PayloadHash.streamingECDSA.isSupported && PayloadHash.unsigned.isSupported)
        #expect(!PayloadHash.unsigned.isStreaming)
    }

    @Test func theAuthorizationHeaderParsesIntoItsParts() throws {
        let parsed = try AuthorizationHeader(
            parsing: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request,"
                + "SignedHeaders=content-type;Host;x-amz-date,  "
                + "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        )
        #expect(parsed.accessKeyId == "AKIDEXAMPLE")
        #expect(parsed.scope == CredentialScope(date: "20150830", region: "us-east-1", service: "iam"))
        #expect(parsed.signedHeaders == ["content-type", "host", "x-amz-date"])
        #expect(parsed.signature.hasPrefix("5d672d79"))
    }

    @Test func secretsNeverAppearInDescriptions() {
        let credentials = Credentials(accessKeyId: "AKID", secretAccessKey: "topsecret", sessionToken: "tok")
        #expect(!"\(credentials)".contains("topsecret"))
        let key = SigningKey(
            secretAccessKey: "topsecret", scope: CredentialScope(date: "20150830", region: "r", service: "s"))
        #expect(!"\(key)".contains(Bytes.hex(key.bytes)))
    }

    @Test func theKeyCacheReusesKeysAndIsSafeUnderConcurrency() async {
        let cache = SigningKeyCache(capacity: 8)
        let scope = CredentialScope(date: "20150830", region: "us-east-1", service: "iam")
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        #expect(cache.key(secretAccessKey: secret, scope: scope) == SigningKey(secretAccessKey: secret, scope: scope))
        #expect(cache.count == 1)
        await withTaskGroup(of: Bool.self) { group in
            for task in 0..<32 {
                group.addTask {
                    var allRight = true
                    for index in 0..<200 {
                        let scope = CredentialScope(date: "20150830", region: "r\((task + index) % 12)", service: "s")
                        let key = cache.key(secretAccessKey: secret, scope: scope)
                        allRight = allRight && key == SigningKey(secretAccessKey: secret, scope: scope)
                    }
                    return allRight
                }
            }
            for await allRight in group { #expect(allRight) }
        }
        #expect(cache.count <= 8)
        cache.removeAll()
        #expect(cache.count == 0)
    }

    @Test func differentScopesGiveDifferentKeys() {
        let secret = "secret"
        let base = CredentialScope(date: "20150830", region: "us-east-1", service: "s3")
        let key = SigningKey(secretAccessKey: secret, scope: base)
        var others = [
            CredentialScope(date: "20150831", region: "us-east-1", service: "s3"),
            CredentialScope(date: "20150830", region: "us-east-2", service: "s3"),
            CredentialScope(date: "20150830", region: "us-east-1", service: "iam"),
        ].map { SigningKey(secretAccessKey: secret, scope: $0).bytes }
        others.append(SigningKey(secretAccessKey: "other", scope: base).bytes)
        #expect(!others.contains(key.bytes))
    }
}
