// The checkpoints kept in fuzz/regressions/checkpoint (issue 6: inputs the fuzz-checkpoint
// harness found), each decoded with the outcome it must have. Their CRC-32 is valid, as the
// harness makes it. Every kept file needs an entry here.
import Foundation
import Testing
import NNTrainer

@Suite struct CheckpointFuzzRegressions {
    static var dir: String {
        var path = #filePath
        for _ in 0..<3 { path = (path as NSString).deletingLastPathComponent }   // Tests/NNTrainerTests/<file>
        return path + "/fuzz/regressions/checkpoint"
    }

    /// File name -> a fragment of the `.format` error Checkpoint.decode must throw.
    static let expected: [String: String] = [
        // A bit flip turned the network's cost from log-likelihood into quadratic under a softmax
        // output: Network(model:) refused it as .unsupported, where decode promises .format.
        "quadratic-cost-softmax-network.checkpoint": "its network: model 'checkpoint': the quadratic cost needs an elementwise output activation",
    ]

    @Test func everyKeptCheckpointFailsAsDocumented() throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: Self.dir)) ?? []).sorted()
        #expect(Set(files) == Set(Self.expected.keys), "fuzz/regressions/checkpoint and this table must list the same files")
        for name in files {
            guard let fragment = Self.expected[name] else { continue }
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.dir + "/" + name)))
            #expect {
                _ = try Checkpoint.decode(bytes)
            } throws: { error in
                guard let e = error as? TrainerError else { return false }
                return e.kind == .format && e.message.contains(fragment)
            }
        }
    }
}
