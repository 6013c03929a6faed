// The IDX file format of the MNIST distribution (http://yann.lecun.com/exdb/mnist/):
//
//     magic   : 4 bytes, 0x00 0x00 <type> <rank>    (type 0x08 = unsigned byte)
//     dims    : rank big-endian UInt32 sizes
//     data    : product(dims) values, row-major
//
// Labels are idx1 (rank 1, magic 0x00000801), images idx3 (rank 3, magic 0x00000803). Files may
// be gzipped or not: zlib's gzread reads both transparently. All zlib calls live in this file.

import CZlib

/// Reads and writes IDX files of unsigned bytes, gzipped or not.
public enum IDX {
    /// The magic number of an IDX file of unsigned bytes with the given rank.
    public static func magic(rank: Int) -> UInt32 { 0x0000_0800 | UInt32(rank) }

    /// An IDX array: its dimensions and its values, row-major.
    public struct Array: Sendable, Equatable {
        public var dimensions: [Int]
        public var bytes: [UInt8]

        public init(dimensions: [Int], bytes: [UInt8]) {
            self.dimensions = dimensions
            self.bytes = bytes
        }
    }

    /// Reads an IDX file of unsigned bytes of the given rank.
    ///
    /// - Parameters:
    ///   - path: the file, gzipped or not.
    ///   - rank: the expected number of dimensions (1 for labels, 3 for images).
    ///   - limit: read at most this many items along the first dimension (the rest of the file is
    ///     not read, and the returned first dimension is min(count, limit)).
    /// - Throws: `TrainerError` naming the path and what is wrong: cannot open, bad magic, rank,
    ///   sizes, or a truncated file.
    public static func read(path: String, rank: Int, limit: Int? = nil) throws(TrainerError) -> Array {
        guard let file = gzopen(path, "rb") else {
            throw TrainerError(.io, "\(path): cannot open for reading")
        }
        defer { gzclose(file) }
        var header = [UInt8](repeating: 0, count: 4 + 4 * rank)
        let got = try readFully(file, into: &header, path: path)
        guard got >= 4 else {
            throw TrainerError(.format, "\(path): truncated IDX header (\(got) bytes, expected \(header.count))")
        }
        let magicValue = bigEndianUInt32(header, 0)
        guard magicValue == magic(rank: rank) else {
            let hex = String(magicValue, radix: 16)
            let expected = String(magic(rank: rank), radix: 16)
            throw TrainerError(.format,
                               "\(path): bad IDX magic number 0x\(hex), expected 0x\(String(repeating: "0", count: 8 - expected.count))\(expected) (unsigned-byte IDX of rank \(rank))")
        }
        guard got == header.count else {
            throw TrainerError(.format, "\(path): truncated IDX header (\(got) bytes, expected \(header.count))")
        }
        var dims = (0..<rank).map { Int(bigEndianUInt32(header, 4 + 4 * $0)) }
        if let limit, limit >= 0, let first = dims.first, first > limit { dims[0] = limit }
        let (count, overflow) = dims.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= Int(Int32.max) * 4 else {
            throw TrainerError(.format, "\(path): IDX dimensions \(dims) are too large")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try readFully(file, into: &bytes, path: path)
        guard n == count else {
            throw TrainerError(.format,
                               "\(path): truncated IDX data: dimensions \(dims) need \(count) bytes, file has \(n)")
        }
        if limit == nil {
            // A complete read must end exactly at the end of the data.
            var extra = [UInt8](repeating: 0, count: 1)
            if try readFully(file, into: &extra, path: path) != 0 {
                throw TrainerError(.format, "\(path): trailing bytes after the IDX data of dimensions \(dims)")
            }
        }
        return Array(dimensions: dims, bytes: bytes)
    }

    /// Writes an IDX file of unsigned bytes, gzipped if `gzip` is true (the MNIST distribution's
    /// `.gz` files), atomically (temp file, then rename).
    public static func write(_ array: Array, to path: String, gzip: Bool) throws(TrainerError) {
        let count = array.dimensions.reduce(1, *)
        guard count == array.bytes.count else {
            throw TrainerError(.invalidArgument,
                               "IDX dimensions \(array.dimensions) need \(count) bytes, got \(array.bytes.count)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 + 4 * array.dimensions.count + count)
        appendBigEndian(&out, magic(rank: array.dimensions.count))
        for d in array.dimensions { appendBigEndian(&out, UInt32(d)) }
        out += array.bytes
        let temp = path + ".tmp-\(getpid())"
        guard let file = gzopen(temp, gzip ? "wb9" : "wbT") else {
            throw TrainerError(.io, "\(temp): cannot open for writing")
        }
        let written = out.withUnsafeBytes { buf -> Int32 in
            guard let base = buf.baseAddress else { return 0 }
            return gzwrite(file, base, UInt32(buf.count))
        }
        let closed = gzclose(file)
        guard written == Int32(out.count), closed == Z_OK else {
            unlink(temp)
            throw TrainerError(.io, "\(path): write failed")
        }
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw TrainerError(.io, "\(path): cannot rename \(temp) into place")
        }
    }

    /// Reads until `buffer` is full or the file ends; returns the bytes read.
    private static func readFully(_ file: gzFile, into buffer: inout [UInt8], path: String) throws(TrainerError) -> Int {
        var total = 0
        let size = buffer.count
        var failed = false
        buffer.withUnsafeMutableBytes { buf in
            guard let base = buf.baseAddress else { return }
            while total < size {
                let chunk = UInt32(min(size - total, 1 << 24))
                let n = gzread(file, base + total, chunk)
                if n < 0 { failed = true; return }
                if n == 0 { return }
                total += Int(n)
            }
        }
        if failed {
            var errnum: Int32 = 0
            let msg = gzerror(file, &errnum).map { String(cString: $0) } ?? "unknown error"
            throw TrainerError(.format, "\(path): read error (\(msg))")
        }
        return total
    }

    private static func bigEndianUInt32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    private static func appendBigEndian(_ out: inout [UInt8], _ v: UInt32) {
        out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xFF))
        out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
