import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The server's data directory: database, certificates and keys, artifacts, the dev profile.
///
/// Everything in it is private to the user the server runs as: the directory is 0700 and what Slipway writes there
/// is 0600 (directories 0700), created with that mode rather than changed afterwards. The process umask is left
/// alone on purpose: under `--dev` the server's process also runs an agent, whose installs must get the host's
/// default modes as the stock agent's do.
public enum DataDirectory {
    /// The mode of the data directory and of every directory Slipway makes in it.
    public static let directoryMode: mode_t = 0o700
    /// The mode of every file Slipway writes in it.
    public static let fileMode: mode_t = 0o600

    /// Creates `directory` (and missing parents) with mode 0700, or tightens an existing one that others may read,
    /// returning a sentence for the log when it did.
    @discardableResult
    public static func prepare(_ directory: URL) throws -> String? {
        let path = directory.path
        var status = stat()
        if stat(path, &status) != 0 {
            try FileManager.default.createDirectory(
                at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard mkdir(path, directoryMode) == 0 || errno == EEXIST else {
                throw ConfigurationError("cannot create the directory \(path): \(String(cString: strerror(errno)))")
            }
            return nil
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw ConfigurationError("\(path) is not a directory")
        }
        guard status.st_mode & 0o077 != 0 else { return nil }
        guard chmod(path, directoryMode) == 0 else {
            throw ConfigurationError(
                "\(path) can be read by other users and cannot be made private (chmod 700): "
                    + String(cString: strerror(errno)))
        }
        return "made \(path) private to its owner (mode \(String(status.st_mode & 0o777, radix: 8)) → 700)"
    }

    /// Makes the SQLite database at `path` private before SQLite opens it: creates it empty with mode 0600 when it
    /// does not exist (SQLite then gives its `-wal` and `-shm` files the same mode), and tightens an existing
    /// database and its companion files. Returns what it tightened, for the log.
    public static func prepareDatabase(at path: String) throws -> [String] {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        if descriptor >= 0 {
            close(descriptor)
            return []
        }
        guard errno == EEXIST else {
            throw ConfigurationError("cannot create the database \(path): \(String(cString: strerror(errno)))")
        }
        var tightened: [String] = []
        for file in [path, path + "-wal", path + "-shm"] {
            var status = stat()
            guard stat(file, &status) == 0, status.st_mode & 0o077 != 0 else { continue }
            guard chmod(file, fileMode) == 0 else {
                throw ConfigurationError(
                    "\(file) can be read by other users and cannot be made private (chmod 600): "
                        + String(cString: strerror(errno)))
            }
            tightened.append(file)
        }
        return tightened
    }
}

/// Writes small files that may hold secrets: created under a temporary name with their final mode (never changed
/// afterwards, so there is no moment at which another user could open them), synced, then renamed into place.
/// Text files end with a newline: a PEM without one breaks `cat ca.pem others.pem > bundle.pem`.
enum SecretFile {
    static func write(_ text: String, to url: URL, mode: mode_t = DataDirectory.fileMode) throws {
        let contents = text.hasSuffix("\n") || text.isEmpty ? text : text + "\n"
        try write(Data(contents.utf8), to: url, mode: mode)
    }

    static func write(_ data: Data, to url: URL, mode: mode_t = DataDirectory.fileMode) throws {
        let temporary = url.path + ".tmp"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw ConfigurationError("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        var failure: Int32 = 0
        do {
            try handle.write(contentsOf: data)
        } catch {
            failure = EIO
        }
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0 && rename(temporary, url.path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw ConfigurationError("cannot write \(url.path): \(String(cString: strerror(failure)))")
        }
    }

    /// Adds the final newline to an existing text file that lacks one (PEM files of earlier versions), keeping
    /// its mode.
    static func endWithNewline(_ url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path), let last = data.last, last != 0x0A else {
            return
        }
        var status = stat()
        let mode = stat(url.path, &status) == 0 ? status.st_mode & 0o777 : DataDirectory.fileMode
        try write(data + Data([0x0A]), to: url, mode: mode)
    }
}
