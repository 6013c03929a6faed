import ArgumentParser
import Foundation
import NNModel

struct EnsembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Combine model files into one ensemble model file whose members vote.",
        discussion: """
            Members must take the same input and have the same class labels. Members that are \
            themselves ensembles contribute their members. Voting rules: majority (each member \
            votes for its label; a tie goes to the tied label with the largest summed output, \
            then to the smallest index) or mean-probability (argmax of the mean output).

            --quiet prints nothing on success; --json prints one object: {"output", "name", \
            "members" (networks in the file), "voting"}.

            Example:
              nnrt ensemble a.nnrt b.nnrt c.nnrt --voting majority --out abc.nnrt
              nnrt eval abc.nnrt

            \(Exit.helpText)
            """
    )

    @Argument(help: "The member model files.", completion: .file(extensions: ["nnrt"]))
    var members: [String]

    @Option(help: "Voting rule: majority or mean-probability.", completion: .list(["majority", "mean-probability"]))
    var voting: String = "majority"

    @Option(help: "A name for the ensemble (default: from the output file name).")
    var name: String?

    @Option(help: "Where to write the ensemble model file.", completion: .file(extensions: ["nnrt"]))
    var out: String

    @Flag(name: [.customShort("q"), .long], help: "Print nothing on success.")
    var quiet = false

    @Flag(help: "Print what was written as one JSON object (fields above).")
    var json = false

    func run() throws {
        try reportingErrors {
            guard let rule = VotingRule.allCases.first(where: { $0.name == voting }) else {
                throw CLIError("--voting must be majority or mean-probability, got '\(voting)'", status: Exit.usage)
            }
            guard !members.isEmpty else { throw CLIError("give at least one member model file", status: Exit.usage) }
            var networks: [NetworkModel] = []
            for path in members {
                networks.append(contentsOf: try loadModelFile(path).networks)
            }
            let ensembleName = name ?? URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
            let file = ModelFile(body: .ensemble(EnsembleModel(name: ensembleName, members: networks, voting: rule)))
            do {
                try validateModel(file)
            } catch {
                throw CLIError("members do not fit together: \(error)", status: Exit.dataError)
            }
            try checkWritable(out)
            do {
                try writeModelFile(file, to: out)
            } catch {
                throw CLIError("cannot write \(out): \(error)", status: Exit.cannotCreate)
            }
            if json {
                JSON.object([("output", .string(out)), ("name", .string(ensembleName)), ("members", .int(networks.count)),
                             ("voting", .string(rule.name))]).emit()
                return
            }
            if quiet { return }
            say("ensemble of \(networks.count) networks, \(rule.name) vote")
            say("wrote \(out)")
        }
    }
}
