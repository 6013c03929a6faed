// Shared by the libFuzzer harnesses (fuzz/Sources/fuzz-*): checks that turn a broken promise of
// Include/nnrt.h into a crash that libFuzzer records, and the seed-corpus writer.
//
// A harness aborts (and libFuzzer keeps the input) when libnnrt returns a status the function
// does not document for that failure, NNRT_ERR_INTERNAL, an empty error message, or results that
// break the header's contract; AddressSanitizer and LeakSanitizer catch the rest.
import NNRuntime
#if canImport(Glibc)
import Glibc
#endif

/// nnrt.h's status codes.
public enum Status {
    public static let ok: Int32 = 0
    public static let invalidArgument: Int32 = 1
    public static let io: Int32 = 2
    public static let badModel: Int32 = 3
    public static let unsupportedVersion: Int32 = 4
    public static let shapeMismatch: Int32 = 5
    public static let bufferTooSmall: Int32 = 6
    public static let outOfMemory: Int32 = 7
    public static let imageDecode: Int32 = 8
    public static let `internal`: Int32 = 9
    public static let unsupported: Int32 = 10
    public static let notFound: Int32 = 11
    public static let imageFormat: Int32 = 12
    public static let imageTooLarge: Int32 = 13
}

/// Writes `text` and a newline to standard error.
public func say(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.append(UInt8(ascii: "\n"))
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Reports a broken invariant and aborts, so libFuzzer saves the input.
public func violated(_ what: String) -> Never {
    say("fuzz harness: invariant broken: \(what)")
    abort()
}

/// The calling thread's last error message.
public func lastError() -> String {
    String(cString: nnrt_last_error_message())
}

/// Checks `status` against the statuses `function` may return here. A failure must come with a
/// message naming the function or the cause; NNRT_ERR_INTERNAL is always a bug.
public func expect(_ status: Int32, in allowed: Set<Int32>, _ function: String) {
    if status == Status.ok && allowed.contains(Status.ok) { return }
    guard allowed.contains(status) else {
        violated("\(function) returned \(status) (\(String(cString: nnrt_status_string(status)))): \(lastError())")
    }
    if status != Status.ok && lastError().isEmpty {
        violated("\(function) failed with \(status) and an empty message")
    }
}

/// Checks a string the library handed out: not NULL, NUL-terminated (strlen reads it all, which
/// AddressSanitizer checks), valid for as long as the model lives.
@discardableResult
public func checkedString(_ p: UnsafePointer<CChar>?, _ what: String) -> String {
    guard let p else { violated("\(what) is NULL") }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
}

// MARK: - Seeds

/// When the environment variable NNRT_FUZZ_WRITE_SEEDS names a directory, writes `seeds` (file
/// name, bytes) into it and exits: scripts/fuzz.sh seeds each corpus this way, from the
/// project's own encoders, so the repository keeps no binary corpus.
public func writeSeedsIfAsked(_ seeds: () -> [(name: String, bytes: [UInt8])]) {
    guard let dir = getenv("NNRT_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }), !dir.isEmpty else { return }
    mkdir(dir, 0o755)
    var written = 0
    for (name, bytes) in seeds() {
        let path = dir + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            say("cannot write \(path): \(String(cString: strerror(errno)))")
            exit(1)
        }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard n == bytes.count else {
            say("cannot write \(path)")
            exit(1)
        }
        written += 1
    }
    say("wrote \(written) seeds to \(dir)")
    exit(0)
}

/// A small deterministic generator (xorshift64*) for seed weights and pixels.
public struct SeedRNG {
    var state: UInt64
    public init(_ seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    public mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    /// Uniform in [-1, 1).
    public mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    public mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
}

/// a * b, or Int.max when that overflows.
public func saturatingProduct(_ a: Int, _ b: Int) -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? Int.max : p
}
