import Testing
import NNModel
@testable import NNTrainer

@Suite struct ArchitectureTests {
    @Test func parsesTheBooksNetworks() throws {
        let a = try Architecture.parse("convpool20x5,convpool40x5,fc100:relu,softmax10")
        #expect(a.inputShape == [1, 28, 28])
        #expect(a.layers == [.convPool(maps: 20, kernel: 5, pool: 2, activation: .sigmoid),
                             .convPool(maps: 40, kernel: 5, pool: 2, activation: .sigmoid),
                             .dense(units: 100, activation: .relu, dropout: 0),
                             .softmax(units: 10, dropout: 0)])
        #expect(a.sizes == [784, 2880, 640, 100, 10])
        let relu = try Architecture.parse("convpool20x5, convpool40x5p2, fc1000:drop0.5, fc1000:relu:drop0.5, softmax10:drop0.5",
                                          defaultActivation: .relu)
        #expect(relu.layers == [.convPool(maps: 20, kernel: 5, pool: 2, activation: .relu),
                                .convPool(maps: 40, kernel: 5, pool: 2, activation: .relu),
                                .dense(units: 1000, activation: .relu, dropout: 0.5),
                                .dense(units: 1000, activation: .relu, dropout: 0.5),
                                .softmax(units: 10, dropout: 0.5)])
        let plain = try Architecture.parse("conv20x5:relu,pool2,conv8x3:tanh,pool3:relu,fc10:linear")
        #expect(plain.layers == [.conv(maps: 20, kernel: 5, activation: .relu), .pool(size: 2, activation: .linear),
                                 .conv(maps: 8, kernel: 3, activation: .tanh), .pool(size: 3, activation: .relu),
                                 .dense(units: 10, activation: .linear, dropout: 0)])
        #expect(plain.sizes == [784, 11520, 2880, 800, 72, 10])
        #expect(Architecture.mlp(sizes: [784, 30, 10]) == Architecture(inputShape: [784], layers: [
            .dense(units: 30, activation: .sigmoid, dropout: 0), .dense(units: 10, activation: .sigmoid, dropout: 0)]))
        #expect(Architecture.mlp(sizes: [784, 30, 10]).isSigmoidMLP)
        #expect(!a.isSigmoidMLP && !Architecture.mlp(sizes: [4, 2], activation: .tanh).isSigmoidMLP)
    }

    @Test(arguments: [
        "convpool20x5,convpool40x5,fc100,softmax10",
        "convpool20x5:relu,convpool40x5p3:tanh,fc1000:relu:drop0.5,fc1000:relu:drop0.25,softmax10:drop0.5",
        "conv20x5:linear,pool2:sigmoid,conv4x3,pool2,fc10:relu",
        "fc30,fc10",
        "fc100:tanh,softmax10",
    ])
    func descriptionRoundTrips(spec: String) throws {
        let a = try Architecture.parse(spec)
        #expect(a.description == spec)
        #expect(try Architecture.parse(a.description) == a)
        let relu = try Architecture.parse(spec, defaultActivation: .relu)
        #expect(try Architecture.parse(relu.description) == relu)
    }

    @Test func mlpDescriptionIsTheSizes() throws {
        let mlp = Architecture.mlp(sizes: [784, 30, 10])
        #expect(mlp.description == "fc30,fc10")
        #expect(try Architecture.parse(mlp.description, inputShape: [784]) == mlp)
    }

    @Test(arguments: [
        ("", "layer spec is empty"),
        ("fc", "layer 1 'fc': number of units '' must be a positive integer"),
        ("fc100,fc0", "layer 2 'fc0'"),
        ("conv20", "layer 1 'conv20': expected <maps>x<kernel>"),
        ("convpool20x5p0", "layer 1 'convpool20x5p0': pool size '0'"),
        ("fc10:foo", "layer 1 'fc10:foo': unknown suffix 'foo'"),
        ("fc10:relu:tanh", "activation given twice"),
        ("fc10:drop1", "layer 1 'fc10:drop1': dropout 'drop1' must be drop<p> with 0 <= p < 1"),
        ("softmax10:relu", "takes no activation suffix"),
        ("conv20x5:drop0.5", "dropout applies to fc and softmax layers only"),
        ("softmax10,fc10", "layer 1 'softmax10': a softmax layer must be the last layer"),
        ("conv20x30", "layer 1 'conv20x30': a 30x30 kernel does not fit the 28x28 input"),
        ("convpool20x5,convpool40x5,convpool40x5", "layer 3 'convpool40x5': a 5x5 kernel does not fit the 4x4 input"),
        ("fc100,pool2", "layer 2 'pool2': convolution and pooling need a [channels, height, width] input, got [100]"),
        ("pool2", "layer 1 'pool2': convolution and pooling need"),
        ("lstm10", "layer 1 'lstm10': unknown layer kind"),
        ("fc10,,fc10", "layer 2 '': unknown layer kind"),
    ])
    func errorsNameTheToken(spec: String, fragment: String) {
        let shape = spec == "pool2" ? [784] : [1, 28, 28]
        #expect {
            try Architecture.parse(spec, inputShape: shape)
        } throws: { e in
            let message = (e as? TrainerError)?.message ?? ""
            return message.contains(fragment) && (e as? TrainerError)?.kind == .invalidArgument
        }
    }

    @Test func validationCatchesHandBuiltArchitectures() {
        #expect(throws: TrainerError.self) { try Architecture(inputShape: [1, 28, 28], layers: []).validate() }
        #expect(throws: TrainerError.self) { try Architecture(inputShape: [0], layers: [.dense(units: 2, activation: .sigmoid, dropout: 0)]).validate() }
        #expect(throws: TrainerError.self) { try Architecture(inputShape: [4], layers: [.dense(units: 2, activation: .softmax, dropout: 0)]).validate() }
        #expect(throws: TrainerError.self) { try Architecture(inputShape: [4], layers: [.dense(units: 2, activation: .sigmoid, dropout: 1)]).validate() }
        #expect(throws: TrainerError.self) { try Architecture(inputShape: [1, 4, 4], layers: [.pool(size: 2, activation: .linear)]).validate() }
    }
}
