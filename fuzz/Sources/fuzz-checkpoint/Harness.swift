// fuzz-checkpoint: training checkpoints (Checkpoint.decode, what `nnrt train --resume` reads).
// A checkpoint ends with a CRC-32 of everything before it, which random mutations would almost
// never match, so the harness writes the right CRC over the input's last four bytes first: the
// fuzzer then explores the sections behind it. A checkpoint that decodes is checked as resume
// would use it (its configuration validated, its architecture resolved) and must survive an
// encode/decode round trip unchanged.
import CZlib
import FuzzSupport
import NNModel
import NNTrainer
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    writeSeedsIfAsked(checkpointSeeds)
    return 0
}

/// `bytes` with its last four bytes replaced by the little-endian CRC-32 of the rest.
func withValidCRC(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.count >= 24 else { return bytes }
    var out = bytes
    let body = out.count - 4
    let crc = out.withUnsafeBufferPointer { crc32(crc32(0, nil, 0), $0.baseAddress, uInt(body)) }
    for k in 0..<4 { out[body + k] = UInt8(truncatingIfNeeded: UInt32(crc) >> (8 * UInt32(k))) }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = withValidCRC(Array(UnsafeBufferPointer(start: data, count: size)))
    let checkpoint: Checkpoint
    do throws(TrainerError) {
        checkpoint = try Checkpoint.decode(bytes)
    } catch {
        guard error.kind == .format, !error.message.isEmpty else {
            violated("Checkpoint.decode failed with \(error.kind): '\(error.message)'")
        }
        return 0
    }
    // What resume does with it before training.
    do throws(TrainerError) {
        try checkpoint.config.validate()
        _ = try checkpoint.config.resolvedArchitecture()
    } catch {
        if error.message.isEmpty { violated("a decoded checkpoint's configuration fails without a message") }
    }
    _ = checkpoint.isFinished
    // Whatever decodes encodes, and decodes again to the same run: the second encoding equals
    // the first byte for byte (NaNs included, which == would not see).
    do throws(TrainerError) {
        let first = try checkpoint.encode()
        let again = try Checkpoint.decode(first)
        guard try again.encode() == first, again.epochsDone == checkpoint.epochsDone else {
            violated("a checkpoint changes in an encode/decode round trip")
        }
    } catch {
        violated("a decoded checkpoint does not round-trip: \(error.kind): \(error.message)")
    }
    return 0
}
