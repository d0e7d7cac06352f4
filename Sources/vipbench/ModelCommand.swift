import ArgumentParser
import Engine
import Foundation
import Models
import Safetensors

extension Architecture: ExpressibleByArgument {}

/// Parses `--input CxTxHxW`, or gives the model's default input.
func clipShape(_ text: String?, default shape: [Int]) throws -> [Int] {
    guard let text else { return shape }
    let p = text.lowercased().split(separator: "x").map { Int($0) }
    guard p.count == 4, p.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("--input '\(text)' is not CxTxHxW") }
    return p.map { $0! }
}

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "The networks of Table 1: list them, count their parameters and multiply-adds.",
        subcommands: [List.self, Info.self, Forward.self, Init.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model's seeded initial weights as safetensors (torchvision's names for r3d18, r3d50 and mvit-b).")

        @Argument(help: ArgumentHelp("The network.", valueName: "model"))
        var architecture: Architecture

        @Option(help: ArgumentHelp("The .safetensors file to write.", valueName: "file"))
        var out: String

        @Option(help: ArgumentHelp("Input as CxTxHxW: C is 3 for RGB, 2 for flow; T x H x W matters to mvit-b only (its position embeddings fit one clip size). Default: the model's paper input.", valueName: "CxTxHxW"))
        var input: String?

        @Option(help: "Number of classes.")
        var classes: Int = 400

        @Option(help: "Channel-width multiplier.")
        var width: Double = 1

        @Option(help: "Seed of the initialisation.")
        var seed: UInt64 = 0

        func run() throws {
            let shape = try clipShape(input, default: architecture.defaultInput)
            var g = SeededGenerator(seed: seed)
            let model = ModelZoo.make(architecture, inputChannels: shape[0], classes: classes, width: width,
                                      clip: Array(shape.dropFirst()), generator: &g)
            try Checkpoint.save(model, to: out, metadata: ["model": architecture.rawValue, "seed": "\(seed)", "width": "\(width)"])
            note("wrote \(model.stateDict().count) tensors (\(model.parameterCount) parameters) to \(out)")
        }
    }

    struct Forward: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one batch through a model in evaluation mode: .npy in (N x C x T x H x W, float32), logits out.",
            discussion: "Weights are safetensors named by the state_dict keys (torchvision's for r3d18, r3d50 and mvit-b); without --weights the seeded initialisation is used.")

        @Argument(help: ArgumentHelp("The network.", valueName: "model"))
        var architecture: Architecture

        @Option(help: ArgumentHelp("Weights (.safetensors).", valueName: "file"))
        var weights: String?

        @Option(help: ArgumentHelp("Input batch (.npy, float32 or float64).", valueName: "file"))
        var input: String

        @Option(help: ArgumentHelp("Where to write the logits (.npy); printed when absent.", valueName: "file"))
        var output: String?

        @Option(help: "Number of classes.")
        var classes: Int = 400

        @Option(help: "Seed of the initialisation when no weights are given.")
        var seed: UInt64 = 0

        @Option(help: "Channel-width multiplier (must match the weights).")
        var width: Double = 1

        func run() throws {
            let (shape, values) = try NPY.read(input)
            guard shape.count == 5 else { throw ValidationError("\(input): shape \(shape) is not N x C x T x H x W") }
            var g = SeededGenerator(seed: seed)
            let model = ModelZoo.make(architecture, inputChannels: shape[1], classes: classes, width: width,
                                      clip: Array(shape.dropFirst(2)), generator: &g)
            if let weights { try Checkpoint.load(model, from: weights) }
            model.eval()
            let logits = Autograd.withoutGradients { model(Tensor(shape: shape, data: values)) }
            if let output {
                try NPY.write(output, shape: logits.shape, values: logits.data)
                note("wrote logits \(logits.shape) to \(output)")
            } else {
                for n in 0..<logits.shape[0] {
                    let row = logits.data[(n * logits.shape[1])..<((n + 1) * logits.shape[1])]
                    print(row.map { String(format: "%.6g", $0) }.joined(separator: " "))
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Name each model with the code it follows.")
        func run() {
            for a in Architecture.allCases {
                print(a.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + a.reference)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parameters and GMACs per view, from walking the built network with shapes only.",
            discussion: """
                Counts multiply-accumulates (MACs) of convolutions, linear layers and attention \
                products, as fvcore and torchvision do ("FLOPs" there); GFLOPs = 2 x GMACs. \
                Parameters include norm affine terms, not running statistics.
                """)

        @Argument(help: ArgumentHelp("The network (see `vipbench model list`).", valueName: "model"))
        var architecture: Architecture

        @Option(help: ArgumentHelp("Input as CxTxHxW (default: the model's paper input).", valueName: "CxTxHxW"))
        var input: String?

        @Option(help: "Channel-width multiplier (scaled profiles).")
        var width: Double = 1

        @Option(help: "Number of classes.")
        var classes: Int = 400

        @Flag(help: "Print JSON.")
        var json = false

        @Flag(help: "Print the per-layer table (name, output shape, MACs, parameters).")
        var layers = false

        struct LayerLine: Encodable { var name, kind, output: String; var macs, parameters: Int }
        struct InfoLine: Encodable {
            var model: Architecture, input: String, width: Double, classes: Int, parameters: Int
            var gmacsPerView, gflopsPerView: Double
            var layers: [LayerLine]?
        }

        func run() throws {
            let shape = try clipShape(input, default: architecture.defaultInput)
            guard width > 0 else { throw ValidationError("--width must be positive") }
            var g = SeededGenerator(seed: 0)
            let model = ModelZoo.make(architecture, inputChannels: shape[0], classes: classes, width: width,
                                      clip: Array(shape.dropFirst()), generator: &g)
            let t = ModelZoo.cost(model, input: shape)
            let gmacs = Double(t.macs) / 1e9
            if json {
                let listed = layers ? t.entries.filter { $0.macs > 0 || $0.parameters > 0 }.map {
                    LayerLine(name: $0.name, kind: $0.kind, output: $0.outputShape.map(String.init).joined(separator: "x"),
                              macs: $0.macs, parameters: $0.parameters)
                } : nil
                print(try encodeJSON(InfoLine(model: architecture, input: shape.map(String.init).joined(separator: "x"), width: width,
                                              classes: classes, parameters: t.parameters, gmacsPerView: gmacs,
                                              gflopsPerView: 2 * gmacs, layers: listed), pretty: false))
                return
            }
            if layers {
                let rows = t.entries.filter { $0.macs > 0 || $0.parameters > 0 }
                let w = rows.map(\.name.count).max() ?? 10
                print("layer".padding(toLength: w, withPad: " ", startingAt: 0) + "  output                MMACs      params")
                for e in rows {
                    print(e.name.padding(toLength: w, withPad: " ", startingAt: 0) + "  "
                          + e.outputShape.map(String.init).joined(separator: "x").padding(toLength: 18, withPad: " ", startingAt: 0)
                          + String(format: "%11.2f %11d", Double(e.macs) / 1e6, e.parameters))
                }
            }
            print("\(architecture.rawValue) (\(architecture.reference))")
            print("input \(shape.map(String.init).joined(separator: "x")), width x\(width), \(classes) classes")
            print(String(format: "parameters %d (%.3f M), %.3f GMACs per view (multiply-adds; %.3f GFLOPs)",
                         t.parameters, Double(t.parameters) / 1e6, gmacs, 2 * gmacs))
        }
    }
}
