/// The patterns of a `.slipwayignore` file: a subset of `.gitignore`.
///
/// Supported: blank lines and `#` comments; `name` (a file or directory of that name at any depth); `dir/` (only
/// directories); `*.ext`, `?` (any one character but `/`); `path/**` (everything under `path`); `**/name` and
/// `a/**/b` (any number of directories); a pattern with a `/` other than a trailing one is relative to the bundle
/// root (a leading `/` only anchors); `!pattern` re-includes what an earlier pattern excluded, the last matching
/// line wins; `\` escapes the next character (`\#`, `\!`). Not supported: character classes (`[abc]`), trailing
/// spaces escaped with `\`. As in git, nothing inside an excluded directory can be re-included, because the
/// directory is not read at all.
struct IgnoreRules {
    struct Rule {
        /// The glob matched against the whole relative path.
        var glob: [Character]
        var negated: Bool
        var directoryOnly: Bool
    }

    private(set) var rules: [Rule] = []

    init(text: String) {
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            var line = Substring(rawLine)
            while line.last == " " || line.last == "\t" { line = line.dropLast() }
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            var negated = false
            if line.hasPrefix("!") {
                negated = true
                line = line.dropFirst()
            }
            var directoryOnly = false
            while line.hasSuffix("/") {
                directoryOnly = true
                line = line.dropLast()
            }
            guard !line.isEmpty else { continue }
            var pattern = String(line)
            if pattern.hasPrefix("/") {
                pattern.removeFirst()
            } else if !pattern.contains("/") {
                // A bare name matches at any depth, as in git.
                pattern = "**/" + pattern
            }
            rules.append(Rule(glob: Array(pattern), negated: negated, directoryOnly: directoryOnly))
        }
    }

    /// Whether the entry at `path` (relative to the bundle root, `/`-separated, no leading or trailing slash) is left
    /// out of the bundle.
    func excludes(_ path: String, isDirectory: Bool) -> Bool {
        let characters = Array(path)
        var excluded = false
        for rule in rules where !(rule.directoryOnly && !isDirectory) {
            if Self.matches(rule.glob[...], characters[...]) { excluded = !rule.negated }
        }
        return excluded
    }

    /// Glob matching with `**`, written by hand because `fnmatch(3)` has no `**`.
    static func matches(_ pattern: ArraySlice<Character>, _ path: ArraySlice<Character>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        switch first {
        case "*":
            let afterStar = pattern.dropFirst()
            if afterStar.first == "*" {
                var rest = afterStar.dropFirst()
                if rest.isEmpty { return true }
                if rest.first == "/" {
                    // `**/`: zero or more whole directories.
                    rest = rest.dropFirst()
                    if matches(rest, path) { return true }
                    var index = path.startIndex
                    while index < path.endIndex {
                        if path[index] == "/" && matches(rest, path[(index + 1)...]) { return true }
                        index += 1
                    }
                    return false
                }
                // `**` inside a name means the same as `*`.
                return matches(["*"] + rest, path)
            }
            var index = path.startIndex
            while true {
                if matches(afterStar, path[index...]) { return true }
                guard index < path.endIndex, path[index] != "/" else { return false }
                index += 1
            }
        case "?":
            guard let character = path.first, character != "/" else { return false }
            return matches(pattern.dropFirst(), path.dropFirst())
        case "\\" where pattern.count > 1:
            let literal = pattern[pattern.startIndex + 1]
            guard path.first == literal else { return false }
            return matches(pattern.dropFirst(2), path.dropFirst())
        default:
            guard path.first == first else { return false }
            return matches(pattern.dropFirst(), path.dropFirst())
        }
    }
}
