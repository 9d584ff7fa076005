import Foundation

/// Writes one line to standard error, for diagnostics that must not mix with a command's output.
func printToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
