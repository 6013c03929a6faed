import Testing
@testable import NNTrainer

@Suite struct SHA256Tests {
    @Test func nistVectors() {
        #expect(SHA256.hex(SHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(SHA256.hash([UInt8]()))
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func incrementalEqualsOneShotAcrossBlockBoundaries() {
        let msg = (0..<1000).map { UInt8($0 % 251) }
        let whole = SHA256.hash(msg)
        for split in [1, 55, 56, 63, 64, 65, 500] {
            var s = SHA256()
            s.update(msg[0..<split])
            msg[split...].withUnsafeBytes { s.update($0) }
            #expect(s.finalize() == whole, "split at \(split)")
        }
        // One million 'a' (NIST long vector).
        var s = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { chunk.withUnsafeBytes { s.update($0) } }
        #expect(SHA256.hex(s.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func fileDigest() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let path = dir + "/abc"
        try Array("abc".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        #expect(try SHA256.hexDigest(ofFile: path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: TrainerError.self) { try SHA256.hexDigest(ofFile: dir + "/missing") }
    }
}

import Foundation
