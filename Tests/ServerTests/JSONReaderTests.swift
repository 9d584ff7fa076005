import Foundation
import SlipwayModel
import Testing

@Suite("Reading request JSON")
struct JSONReaderTests {
    static let documents = [
        #"{"applicationName":"bench"}"#,
        #"  { "a" : [1, -2.5, 3e2, 0, -0.0, 1E-3, true, false, null, {}, []] , "b": {"c": "d"} }  "#,
        #"{"text":"quote \" backslash \\ slash \/ controls \b\f\n\r\t"}"#,
        #"{"unicode":"caf\u00e9 \u4e2d \ud83d\ude00 é 😀"}"#,
        #"{"same":1,"same":2}"#,
        #"[]"#, #""top""#, #"42"#, #"null"#,
        #"{"deep":[[[[[[{"x":[1]}]]]]]]}"#,
    ]

    static let malformed = [
        "", " ", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, "[1,]", "[1 2]", "01", "1.", ".5", "-", "1e",
        "tru", "nul", #""unterminated"#, "\"raw\ncontrol\"", #""\x""#, #""\u12""#, #""\ud83d""#,
        #"{"a":1} x"#, "{'a':1}", "NaN", "1e999",
    ]

    @Test("valid JSON is read to the same value as JSONDecoder reads it")
    func readsLikeJSONDecoder() throws {
        for text in Self.documents {
            let data = Data(text.utf8)
            #expect(try JSONReader.value(from: data) == JSONValue(parsing: data), "\(text)")
        }
    }

    @Test("a repeated member keeps its first value, the one the typed input decodes")
    func repeatedMemberKeepsFirstValue() throws {
        let data = Data(#"{"applicationName":"first","applicationName":"second"}"#.utf8)
        let typed = try AWSJSON.decoder.decode(CodeDeploy.GetApplicationInput.self, from: data)
        #expect(try JSONReader.value(from: data) == .object(["applicationName": .string("first")]))
        #expect(typed.applicationName == "first")
    }

    @Test("text that is not JSON is refused, with where reading stopped")
    func refusesMalformedText() {
        for text in Self.malformed {
            #expect(throws: JSONReader.Malformed.self, "\(text)") { try JSONReader.value(from: Data(text.utf8)) }
        }
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.value(from: Data([0x22, 0xFF, 0x22])) }
    }

    @Test("nesting deeper than JSONDecoder allows is refused instead of exhausting the stack")
    func limitsDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.value(from: Data(deep.utf8)) }
    }
}
