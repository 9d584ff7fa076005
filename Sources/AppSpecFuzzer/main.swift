// The AppSpec parser's fuzz target.
//
// Built with `-Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING` (see scripts/fuzz-appspec.sh) it is a libFuzzer binary:
// libFuzzer generates inputs, guided by coverage, and every input goes through `AppSpec.parse`. Built plainly it
// replays the files given as arguments (a crash reproducer, a corpus) through the same function, so `swift build`
// links it like any other executable.

import AppSpec
import Foundation

/// Parses one input under every option combination a caller can give, and checks the result's invariants.
func parseOneInput(_ bytes: UnsafeRawBufferPointer) {
    let platforms: [ComputePlatform?] = [nil, .server, .lambda, .ecs]
    let selector = bytes.first.map { Int($0) % platforms.count } ?? 0
    let options = AppSpecParseOptions(
        computePlatform: platforms[selector], operatingSystem: selector == 1 ? .linux : nil)
    let result = AppSpec.parse(bytes: bytes, options: options)
    // A result holds a value exactly when it holds no error.
    precondition((result.appSpec == nil) == result.diagnostics.contains { $0.severity == .error })
    if let spec = result.appSpec {
        _ = spec.summary
        if case .server(let server) = spec {
            for event in server.hookedEvents { precondition(server.maximumDuration(of: event) > 0) }
            for file in server.files {
                _ = try? server.permission(for: InstalledObject(path: file.destination, type: .file))
            }
        }
    }
    for diagnostic in result.diagnostics { _ = diagnostic.rendered(file: "appspec.yml") }
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

    var argumentCount = CommandLine.argc
    var arguments = CommandLine.unsafeArgv
    exit(
        runFuzzerDriver(&argumentCount, &arguments) { data, size in
            parseOneInput(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    )
#else
    let paths = CommandLine.arguments.dropFirst()
    if paths.isEmpty {
        FileHandle.standardError.write(
            Data(
                "usage: AppSpecFuzzer FILE...  (replays inputs through the parser; see scripts/fuzz-appspec.sh)\n".utf8)
        )
        exit(2)
    }
    for path in paths {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
            exit(1)
        }
        data.withUnsafeBytes(parseOneInput)
        print("ok \(path)")
    }
#endif
