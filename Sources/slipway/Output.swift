import Foundation

/// Writes one line to standard error, for diagnostics that must not mix with a command's output.
func printToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Writes text to standard output at once, unbuffered, so that a supervisor or a test reading a pipe sees it
/// while the process keeps running.
func printToStandardOutput(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
