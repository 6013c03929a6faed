// Reading and writing model files. Every system call of NNModel lives here.
//
// Writes are atomic: the bytes go to a temporary file in the target's directory, which is
// fsync'ed and renamed over the target, so a reader sees the old model or the new one, never a
// half-written file. Reads check the file's size against a cap before reading.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The largest model file `readModelFile` accepts: 1 GiB.
public let maximumModelFileSize = 1 << 30

private func errnoText(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "error \(code)" }
    return String(cString: s)
}

/// Encodes `file` and writes it to `path` atomically (temporary file in the same directory, fsync,
/// rename). On failure the temporary file is removed and an existing file at `path` is untouched.
/// - Throws: `ModelError` from `encodeModel`, or `.io` naming the path and the system error.
public func writeModelFile(_ file: ModelFile, to path: String) throws(ModelError) {
    let bytes = try encodeModel(file)
    try writeFileAtomically(bytes, to: path)
}

/// Writes `bytes` to `path` atomically and durably: a temporary file beside it ("PATH.tmp-XXXXXX",
/// mode 0644) is written, fsync'ed, closed and renamed over `path`, then the directory is fsync'ed.
/// A reader (or a process killed at any point, even by SIGKILL) sees the old file or the new
/// one, never a mixture; after a power loss the file is the old or the new one too. A process
/// killed in the middle can leave its temporary file behind (never read, safe to delete).
/// On failure the temporary file is removed and an existing file at `path` is untouched.
/// Shared by model files and the trainer's checkpoints.
/// - Throws: `.io` naming the path and the system error.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(ModelError) {
    guard !path.isEmpty else { throw ModelError(.io, "cannot write a file: the path is empty") }
    let directory: String
    if let slash = path.lastIndex(of: "/") {
        directory = slash == path.startIndex ? "/" : String(path[..<slash])
    } else {
        directory = "."
    }
    var template = Array("\(path).tmp-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
        throw ModelError(.io, "cannot create a temporary file beside '\(path)': \(errnoText(errno))")
    }
    let tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    var closed = false
    var renamed = false
    defer {
        if !closed { close(fd) }
        if !renamed { unlink(tempPath) }
    }
    fchmod(fd, 0o644)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { buffer in
            write(fd, buffer.baseAddress! + offset, buffer.count - offset)
        }
        if n < 0 {
            if errno == EINTR { continue }
            throw ModelError(.io, "cannot write '\(tempPath)': \(errnoText(errno))")
        }
        offset += n
    }
    guard fsync(fd) == 0 else { throw ModelError(.io, "cannot sync '\(tempPath)': \(errnoText(errno))") }
    closed = true
    guard close(fd) == 0 else { throw ModelError(.io, "cannot close '\(tempPath)': \(errnoText(errno))") }
    guard rename(tempPath, path) == 0 else {
        throw ModelError(.io, "cannot rename '\(tempPath)' to '\(path)': \(errnoText(errno))")
    }
    renamed = true
    // Make the rename itself durable; failure here does not undo a successful write.
    let dfd = open(directory, O_RDONLY | O_DIRECTORY)
    if dfd >= 0 {
        _ = fsync(dfd)
        close(dfd)
    }
}

/// Reads the raw bytes of a file of at most `limit` bytes.
/// - Throws: `.io` if it cannot be opened or read, is a directory or not a regular file, or is
///   larger than `limit`.
public func readFileBytes(path: String, limit: Int = maximumModelFileSize) throws(ModelError) -> [UInt8] {
    try path.withCString { p in
        Result { () throws(ModelError) in try readFileBytes(cPath: p, limit: limit) }
    }.get()
}

/// A path given as C bytes, for messages: as UTF-8, any invalid byte shown as U+FFFD.
public func displayPath(_ cPath: UnsafePointer<CChar>) -> String {
    String(decoding: UnsafeRawBufferPointer(start: cPath, count: strlen(cPath)), as: UTF8.self)
}

/// As `readFileBytes(path:limit:)` for a path given as a NUL-terminated C string, which need not
/// be valid UTF-8 (file names on Linux are bytes).
public func readFileBytes(cPath: UnsafePointer<CChar>, limit: Int = maximumModelFileSize) throws(ModelError) -> [UInt8] {
    let path = displayPath(cPath)
    guard cPath.pointee != 0 else { throw ModelError(.io, "the path is empty: give the path of a file") }
    let fd = open(cPath, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ModelError(.io, "cannot open '\(path)': \(errnoText(errno))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw ModelError(.io, "cannot stat '\(path)': \(errnoText(errno))") }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw ModelError(.io, "'\(path)' is a directory, not a regular file: give the path of a file in it")
    default: throw ModelError(.io, "'\(path)' is not a regular file (a device, pipe or socket): give the path of a file")
    }
    let size = Int(info.st_size)
    guard size >= 0, size <= limit else {
        throw ModelError(.io, "'\(path)' is \(size) bytes, more than the \(limit)-byte limit for model files")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var offset = 0
    while offset < size {
        let n = bytes.withUnsafeMutableBytes { buffer in
            read(fd, buffer.baseAddress! + offset, size - offset)
        }
        if n < 0 {
            if errno == EINTR { continue }
            throw ModelError(.io, "cannot read '\(path)': \(errnoText(errno))")
        }
        if n == 0 { break }  // the file shrank while we read it
        offset += n
    }
    if offset < size { bytes.removeSubrange(offset...) }
    return bytes
}

/// Reads, decodes and validates the model file at `path` (at most 1 GiB, checked before reading).
/// - Throws: `.io` (cannot open or read, too large) or any error of `decodeModel`.
public func readModelFile(path: String) throws(ModelError) -> ModelFile {
    try path.withCString { p in Result { () throws(ModelError) in try readModelFile(cPath: p) } }.get()
}

/// As `readModelFile(path:)` for a path given as a NUL-terminated C string, which need not be
/// valid UTF-8.
public func readModelFile(cPath: UnsafePointer<CChar>) throws(ModelError) -> ModelFile {
    let bytes = try readFileBytes(cPath: cPath)
    do {
        return try decodeModel(bytes)
    } catch {
        throw ModelError(error.code, "\(displayPath(cPath)): \(error.message)")
    }
}
