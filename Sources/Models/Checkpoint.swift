import Engine
import Foundation
import Safetensors

/// Weights as safetensors, named by the module's state_dict keys (torchvision's for the ResNets),
/// so a torchvision model saved with the `safetensors` package loads unchanged, and back.
/// Parameters and running statistics are F32; `num_batches_tracked` is I64, as in PyTorch.
public enum Checkpoint {
    public static func save(_ module: Module, to path: String, metadata: [String: String] = [:]) throws {
        var tensors: [String: SafetensorsFile.Tensor] = [:]
        for (name, t) in module.stateDict() {
            if name.hasSuffix("num_batches_tracked") {
                tensors[name] = .init(int64s: t.data.map { Int64($0) }, shape: t.shape)
            } else {
                tensors[name] = .init(floats: t.data, shape: t.shape)
            }
        }
        try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: path)
    }

    /// Loads every tensor of the module by name; a missing or unexpected key, or a shape that
    /// differs, is an error naming the file and the key, and nothing is changed.
    public static func load(_ module: Module, from path: String) throws {
        let file = try SafetensorsFile(contentsOf: path)
        let state = module.stateDict()
        let names = Set(state.map(\.0))
        let missing = state.map(\.0).filter { file.tensors[$0] == nil }
        let unexpected = file.tensors.keys.filter { !names.contains($0) }.sorted()
        guard missing.isEmpty && unexpected.isEmpty else {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) tensor(s), first '\(missing[0])'") }
            if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected tensor(s), first '\(unexpected[0])'") }
            throw SafetensorsError(source: path, message: parts.joined(separator: "; "))
        }
        for (name, t) in state {
            let stored = file.tensors[name]!
            guard stored.shape == t.shape else {
                throw SafetensorsError(source: path, message: "tensor '\(name)' has shape \(stored.shape), the model needs \(t.shape)")
            }
        }
        for (name, t) in state { t.assign(file.tensors[name]!.floats()) }
    }
}
