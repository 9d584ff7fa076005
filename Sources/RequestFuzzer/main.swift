// The request parsers' fuzz target: SigV4 (authorization headers, presigned queries, signing times, payload
// hashes, signing and verifying) and the JSON reader with the shape validator.
//
// Built with `-Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING` (see scripts/fuzz-requests.sh) it is a libFuzzer binary;
// built plainly it replays the files given as arguments through the same function, so `swift build` links it like
// any other executable. The first byte of an input selects the parser (``Parser``); the environment variable
// `REQUEST_FUZZER_PARSER` (a parser's name) pins one instead, which is how the script gives each parser its own
// bounded pass and corpus. A crash found in a pinned pass replays with the same variable set.
//
// Only light modules are linked (SigV4 with swift-crypto, SlipwayModel). The S3 XML reader and the tar reader live
// in modules that bring AsyncHTTPClient, NIOSSL and GRDB along; scripts/fuzz-requests.sh explains where they are
// fuzzed instead.

import Foundation

/// The parsers this target fuzzes, in the order the first input byte selects them (modulo their count).
enum Parser: String, CaseIterable {
    /// `Authorization.parse` of a request written as text (request line, headers, blank line, body), then
    /// `Verifier.verify` under each set of `SigningRequirements`.
    case authorization
    /// A request built from the input, signed (header or presigned), parsed back and verified.
    case signing
    /// Lines of text through the value parsers: `AmzDate`, `PayloadHash`, `AuthorizationHeader`, `URIEncoding`.
    case values
    /// `JSONReader` (value, written back, read again) and `ShapeValidator` against an input shape of either API.
    case json

    /// Runs `input` (selector byte included) through this parser.
    func run(_ input: UnsafeRawBufferPointer) {
        let rest = [UInt8](input.dropFirst())
        switch self {
        case .authorization: fuzzAuthorization(rest)
        case .signing: fuzzSigning(rest)
        case .values: fuzzValues(rest)
        case .json: fuzzJSON(rest)
        }
    }

    /// The parser `REQUEST_FUZZER_PARSER` names; exits with a usage message for an unknown name.
    static let pinned: Parser? = {
        guard let name = ProcessInfo.processInfo.environment["REQUEST_FUZZER_PARSER"], !name.isEmpty else {
            return nil
        }
        guard let parser = Parser(rawValue: name) else {
            let names = Parser.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("REQUEST_FUZZER_PARSER must be one of \(names)\n".utf8))
            exit(2)
        }
        return parser
    }()
}

/// Runs one input through the parser its first byte selects (or the pinned one).
func fuzzOneInput(_ input: UnsafeRawBufferPointer) {
    guard let selector = input.first else { return }
    let parser = Parser.pinned ?? Parser.allCases[Int(selector) % Parser.allCases.count]
    parser.run(input)
}

/// Stops the process with `message` when an invariant does not hold; libFuzzer saves the input that did it.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}

#if FUZZING
    /// libFuzzer's driver, which takes over the process (its own `main` is replaced by this file's top-level code,
    /// because SwiftPM links executables with `main` aliased to the module's entry point).
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    _ = Parser.pinned
    var argumentCount = CommandLine.argc
    var arguments = CommandLine.unsafeArgv
    exit(
        runFuzzerDriver(&argumentCount, &arguments) { data, size in
            fuzzOneInput(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    )
#else
    let paths = CommandLine.arguments.dropFirst()
    if paths.isEmpty {
        FileHandle.standardError.write(
            Data(
                ("usage: [REQUEST_FUZZER_PARSER=NAME] RequestFuzzer FILE...  (replays inputs through the request "
                    + "parsers; see scripts/fuzz-requests.sh)\n").utf8))
        exit(2)
    }
    for path in paths {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
            exit(1)
        }
        data.withUnsafeBytes(fuzzOneInput)
        print("ok \(path)")
    }
#endif
