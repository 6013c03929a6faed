// SHA-256 (FIPS 180-4), used to verify the MNIST files downloaded from mirrors. Small and
// self-contained so the trainer needs no crypto library.

/// Incremental SHA-256.
public struct SHA256: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockFill = 0
    private var length: UInt64 = 0

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// A fresh hash state.
    public init() {}

    /// Feeds more message bytes.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for b in bytes {
            block[blockFill] = b
            blockFill &+= 1
            length &+= 1
            if blockFill == 64 {
                compress()
                blockFill = 0
            }
        }
    }

    /// Feeds `count` bytes from raw memory (faster than the generic `update` for large buffers).
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        var i = 0
        let n = buffer.count
        while i < n {
            if blockFill == 0 && n - i >= 64 {
                for j in 0..<64 { block[j] = buffer[i &+ j] }
                length &+= 64
                compress()
                i &+= 64
            } else {
                block[blockFill] = buffer[i]
                blockFill &+= 1
                length &+= 1
                i &+= 1
                if blockFill == 64 { compress(); blockFill = 0 }
            }
        }
    }

    /// Pads the message and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var pad: [UInt8] = [0x80]
        let afterOne = (blockFill + 1) % 64
        let zeros = afterOne <= 56 ? 56 - afterOne : 120 - afterOne
        pad += [UInt8](repeating: 0, count: zeros)
        for i in (0..<8).reversed() { pad.append(UInt8((bitLength >> (UInt64(i) * 8)) & 0xFF)) }
        let savedLength = length
        update(pad)
        length = savedLength
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out += [UInt8(word >> 24), UInt8((word >> 16) & 0xFF), UInt8((word >> 8) & 0xFF), UInt8(word & 0xFF)]
        }
        return out
    }

    /// The digest of `bytes`.
    public static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var s = SHA256()
        if let done: Void = bytes.withContiguousStorageIfAvailable({ s.update(UnsafeRawBufferPointer($0)) }) {
            _ = done
        } else {
            s.update(bytes)
        }
        return s.finalize()
    }

    /// Lower-case hex of a digest.
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(digest.count * 2)
        for b in digest {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0xF)])
        }
        return s
    }

    /// The hex SHA-256 of a file's bytes (as stored, i.e. of the .gz itself).
    /// - Throws: `TrainerError.io` if the file cannot be read.
    public static func hexDigest(ofFile path: String) throws(TrainerError) -> String {
        guard let f = fopen(path, "rb") else {
            throw TrainerError(.io, "\(path): cannot open for reading")
        }
        defer { fclose(f) }
        var s = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { buffer.withUnsafeBytes { s.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
            if n < buffer.count {
                if ferror(f) != 0 { throw TrainerError(.io, "\(path): read error") }
                break
            }
        }
        return hex(s.finalize())
    }

    private mutating func compress() {
        var (a, b, c, d, e, f, g, hh) = h
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            block.withUnsafeBufferPointer { m in
                for t in 0..<16 {
                    w[t] = UInt32(m[4 &* t]) << 24 | UInt32(m[4 &* t &+ 1]) << 16
                        | UInt32(m[4 &* t &+ 2]) << 8 | UInt32(m[4 &* t &+ 3])
                }
            }
            for t in 16..<64 {
                let s0 = rotr(w[t &- 15], 7) ^ rotr(w[t &- 15], 18) ^ (w[t &- 15] >> 3)
                let s1 = rotr(w[t &- 2], 17) ^ rotr(w[t &- 2], 19) ^ (w[t &- 2] >> 10)
                w[t] = w[t &- 16] &+ s0 &+ w[t &- 7] &+ s1
            }
            SHA256.k.withUnsafeBufferPointer { k in
                for t in 0..<64 {
                    let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                    let ch = (e & f) ^ (~e & g)
                    let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                    let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                    let maj = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ maj
                    hh = g; g = f; f = e; e = d &+ t1
                    d = c; c = b; b = a; a = t1 &+ t2
                }
            }
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
    }

}

@inline(__always)
private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 &- n)) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
