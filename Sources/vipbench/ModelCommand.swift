import ArgumentParser
import Engine
import Foundation
import Models

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "The networks of Table 1: list them, count their parameters and multiply-adds.",
        subcommands: [List.self, Info.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Name each model with the code it follows.")
        func run() {
            for e in ModelZoo.entries {
                print(e.name.padding(toLength: 12, withPad: " ", startingAt: 0) + e.reference)
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

        @Argument(help: "Model name (see `vipbench model list`).")
        var name: String

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

        func run() throws {
            guard let entry = ModelZoo.entry(name) else {
                throw ValidationError("unknown model '\(name)'; known: \(ModelZoo.entries.map(\.name).joined(separator: ", "))")
            }
            var shape = entry.defaultInput
            if let input {
                let p = input.lowercased().split(separator: "x").compactMap { Int($0) }
                guard p.count == 4, p.allSatisfy({ $0 > 0 }) else { throw ValidationError("--input '\(input)' is not CxTxHxW") }
                shape = p
            }
            guard width > 0 else { throw ValidationError("--width must be positive") }
            var g = SeededGenerator(seed: 0)
            let model = ModelZoo.make(name, inputChannels: shape[0], classes: classes, width: width, generator: &g)!
            let t = ModelZoo.cost(model, input: shape)
            let gmacs = Double(t.macs) / 1e9
            if json {
                var out = "{\"model\": \(jsonString(name)), \"input\": \(jsonString(shape.map(String.init).joined(separator: "x"))), "
                    + "\"width\": \(width), \"classes\": \(classes), \"parameters\": \(t.parameters), \"gmacs_per_view\": \(gmacs), "
                    + "\"gflops_per_view\": \(2 * gmacs)"
                if layers {
                    out += ", \"layers\": [" + t.entries.filter { $0.macs > 0 || $0.parameters > 0 }.map {
                        "{\"name\": \(jsonString($0.name)), \"kind\": \(jsonString($0.kind)), \"output\": \(jsonString($0.outputShape.map(String.init).joined(separator: "x"))), \"macs\": \($0.macs), \"parameters\": \($0.parameters)}"
                    }.joined(separator: ", ") + "]"
                }
                print(out + "}")
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
            print("\(name) (\(entry.reference))")
            print("input \(shape.map(String.init).joined(separator: "x")), width x\(width), \(classes) classes")
            print(String(format: "parameters %d (%.3f M), %.3f GMACs per view (multiply-adds; %.3f GFLOPs)",
                         t.parameters, Double(t.parameters) / 1e6, gmacs, 2 * gmacs))
        }
    }
}
