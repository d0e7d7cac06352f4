import Engine
import Foundation
import Safetensors

/// One safetensors file with everything a run needs to go on exactly: the weights and buffers
/// (`model/<state_dict name>`), the optimiser's per-parameter state (`optimizer/first/<name>`,
/// `optimizer/second/<name>`), and in the metadata the configuration and its hash, where the run
/// stands (epoch, next batch, step, the running epoch loss), the schedule's state, the best
/// validation so far and the commit. Written to a temporary name, then renamed.
public struct TrainingCheckpoint: Sendable {
    public static let format = "vipbench-training-checkpoint/1"

    public var configuration: TrainingConfiguration
    /// The epoch being trained and the next batch in it (batch 0 of the next epoch at an epoch's end).
    public var epoch: Int
    public var nextBatch: Int
    /// Optimiser steps taken so far.
    public var step: Int
    /// Sum and count of this epoch's step losses so far (the epoch mean after a resume).
    public var epochLossSum: Double
    public var epochLossCount: Int
    public var plateau: PlateauState
    public var bestTop1: Double?
    public var bestEpoch: Int?
    public var lastTop1: Double?
    /// Every finished epoch's record so far: the training curve survives a kill and a resume.
    public var history: [EpochRecord]
    public var commit: String
    public var weights: [String: SafetensorsFile.Tensor]
    public var optimizer: OptimizerState
    /// Processes of the data-parallel job that wrote it (1 without mpirun): a resume needs as many.
    public var worldSize: Int = 1

    public init(configuration: TrainingConfiguration, epoch: Int, nextBatch: Int, step: Int, epochLossSum: Double,
                epochLossCount: Int, plateau: PlateauState, bestTop1: Double?, bestEpoch: Int?, lastTop1: Double?,
                history: [EpochRecord] = [], commit: String, model: Module, optimizer: OptimizerState, worldSize: Int = 1) {
        self.configuration = configuration; self.epoch = epoch; self.nextBatch = nextBatch; self.step = step
        self.epochLossSum = epochLossSum; self.epochLossCount = epochLossCount; self.plateau = plateau
        self.bestTop1 = bestTop1; self.bestEpoch = bestEpoch; self.lastTop1 = lastTop1; self.history = history; self.commit = commit
        self.optimizer = optimizer; self.worldSize = worldSize
        var w: [String: SafetensorsFile.Tensor] = [:]
        for (name, t) in model.stateDict() { w[name] = .init(floats: t.data, shape: t.shape) }
        weights = w
    }

    public func write(to path: String) throws {
        var tensors: [String: SafetensorsFile.Tensor] = [:]
        for (k, v) in weights { tensors["model/" + k] = v }
        for (k, v) in optimizer.first { tensors["optimizer/first/" + k] = .init(floats: v, shape: [v.count]) }
        for (k, v) in optimizer.second { tensors["optimizer/second/" + k] = .init(floats: v, shape: [v.count]) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try enc.encode(v), as: UTF8.self) }
        // Doubles go through their exact bit patterns: a resumed run must see the same values.
        var meta: [String: String] = [
            "format": Self.format,
            "configuration": try json(configuration),
            "configuration_hash": configuration.hash,
            "epoch": String(epoch), "next_batch": String(nextBatch), "step": String(step),
            "epoch_loss_sum": String(epochLossSum.bitPattern), "epoch_loss_count": String(epochLossCount),
            "plateau": try json(plateau),
            "history": try Self.historyJSON(history),
            "optimizer_steps": try json(optimizer.steps),
            "seed": String(configuration.seed),
            "commit": commit,
        ]
        if let bestTop1 { meta["best_top1"] = String(bestTop1.bitPattern) }
        if let bestEpoch { meta["best_epoch"] = String(bestEpoch) }
        if let lastTop1 { meta["last_top1"] = String(lastTop1.bitPattern) }
        if worldSize != 1 { meta["world_size"] = String(worldSize) }
        try SafetensorsFile(tensors: tensors, metadata: meta).write(to: path)
    }

    /// The curve a checkpoint carries, read from its header alone (no weights are loaded).
    public static func history(ofFileAt path: String) throws -> [EpochRecord] {
        let metadata = try readingCheckpoint(path) { try SafetensorsFile.metadata(ofFileAt: path) }
        try checkFormat(metadata, path: path)
        return try decodeHistory(metadata["history"], path: path)
    }

    static func checkFormat(_ metadata: [String: String], path: String) throws {
        guard metadata["format"] == format else {
            throw TrainingError.checkpoint(path: path, message:
                "is not a vipbench training checkpoint (metadata 'format' is \(metadata["format"].map { "'\($0)'" } ?? "missing"))")
        }
    }

    /// Checkpoints written before the curve was kept have none: an empty history, not an error.
    static func decodeHistory(_ text: String?, path: String) throws -> [EpochRecord] {
        guard let text else { return [] }
        do { return try historyDecoder.decode([EpochRecord].self, from: Data(text.utf8)) } catch {
            throw TrainingError.checkpoint(path: path, message: "metadata key 'history' does not decode: \(error)")
        }
    }

    /// An epoch without a step has a NaN mean loss: the history spells non-finite values out.
    static func historyJSON(_ history: [EpochRecord]) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try enc.encode(history), as: UTF8.self)
    }

    static var historyDecoder: JSONDecoder {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return dec
    }

    public init(contentsOf path: String) throws {
        let file = try readingCheckpoint(path) { try SafetensorsFile(contentsOf: path) }
        func fail(_ m: String) -> TrainingError { .checkpoint(path: path, message: m) }
        try Self.checkFormat(file.metadata, path: path)
        func meta(_ key: String) throws -> String {
            guard let v = file.metadata[key] else { throw fail("metadata key '\(key)' is missing") }
            return v
        }
        func int(_ key: String) throws -> Int {
            guard let v = Int(try meta(key)) else { throw fail("metadata key '\(key)' is not an integer") }
            return v
        }
        func double(_ key: String) throws -> Double? {
            guard let s = file.metadata[key] else { return nil }
            guard let bits = UInt64(s) else { throw fail("metadata key '\(key)' is not a number") }
            return Double(bitPattern: bits)
        }
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: Data(try meta(key).utf8)) } catch let e as TrainingError { throw e } catch {
                throw fail("metadata key '\(key)' does not decode: \(error)")
            }
        }
        configuration = try decode(TrainingConfiguration.self, "configuration")
        epoch = try int("epoch"); nextBatch = try int("next_batch"); step = try int("step")
        epochLossSum = try double("epoch_loss_sum") ?? 0
        epochLossCount = try int("epoch_loss_count")
        plateau = try decode(PlateauState.self, "plateau")
        bestTop1 = try double("best_top1"); lastTop1 = try double("last_top1")
        bestEpoch = file.metadata["best_epoch"].flatMap { Int($0) }
        history = try Self.decodeHistory(file.metadata["history"], path: path)
        commit = file.metadata["commit"] ?? "unknown"
        worldSize = file.metadata["world_size"] == nil ? 1 : try int("world_size")
        var w: [String: SafetensorsFile.Tensor] = [:]
        var o = OptimizerState()
        for (k, v) in file.tensors {
            if k.hasPrefix("model/") { w[String(k.dropFirst(6))] = v }
            else if k.hasPrefix("optimizer/first/") { o.first[String(k.dropFirst(16))] = v.floats() }
            else if k.hasPrefix("optimizer/second/") { o.second[String(k.dropFirst(17))] = v.floats() }
            else { throw fail("unexpected tensor '\(k)'") }
        }
        o.steps = try decode([String: Int].self, "optimizer_steps")
        weights = w
        optimizer = o
    }

    /// Loads the weights into `model`; every key must be there with the model's shape, and the
    /// optimiser's state must belong to the model's parameters.
    public func restore(into model: Module, path: String) throws {
        let state = model.stateDict()
        for (name, t) in state {
            guard let s = weights[name] else { throw TrainingError.checkpoint(path: path, message: "tensor 'model/\(name)' is missing") }
            guard s.shape == t.shape else {
                throw TrainingError.checkpoint(path: path, message: "tensor 'model/\(name)' has shape \(s.shape), the model needs \(t.shape)")
            }
        }
        let names = Set(state.map(\.0))
        if let extra = weights.keys.sorted().first(where: { !names.contains($0) }) {
            throw TrainingError.checkpoint(path: path, message: "tensor 'model/\(extra)' is not in the model")
        }
        let counts = Dictionary(uniqueKeysWithValues: state.map { ($0.0, $0.1.count) })
        for (k, v) in optimizer.first where counts[k] != v.count {
            throw TrainingError.checkpoint(path: path, message: "tensor 'optimizer/first/\(k)' does not fit parameter '\(k)'")
        }
        for (k, v) in optimizer.second where counts[k] != v.count {
            throw TrainingError.checkpoint(path: path, message: "tensor 'optimizer/second/\(k)' does not fit parameter '\(k)'")
        }
        for (name, t) in state { t.assign(weights[name]!.floats()) }
    }
}

/// Fine-tuning's start: loads every tensor of `path` (a training checkpoint or plain weights)
/// whose name and shape match the model, with a known wrapper prefix removed (`backbone.`,
/// TCLR's `0.`, DataParallel's `module.`). Returns what was loaded, what the file had that did not
/// fit (skipped), and which model tensors keep their fresh initialisation.
public struct InitReport: Sendable, Equatable {
    public var loaded: [String]
    public var skipped: [String]
    public var fresh: [String]
}

public func initialise(_ model: Module, from path: String) throws -> InitReport {
    let file = try readingCheckpoint(path) { try SafetensorsFile(contentsOf: path) }
    var available: [String: SafetensorsFile.Tensor] = [:]
    for (k, v) in file.tensors {
        if k.hasPrefix("optimizer/") { continue }
        var name = k
        for prefix in ["model/", "module.", "backbone.", "0."] where name.hasPrefix(prefix) { name = String(name.dropFirst(prefix.count)) }
        available[name] = v
    }
    var loaded: [String] = [], fresh: [String] = []
    var used = Set<String>()
    for (name, t) in model.stateDict() {
        if let s = available[name], s.shape == t.shape {
            t.assign(s.floats()); loaded.append(name); used.insert(name)
        } else {
            fresh.append(name)
        }
    }
    guard !loaded.isEmpty else {
        throw TrainingError.checkpoint(path: path, message: "no tensor matches the model by name and shape (first in the file: '\(file.tensors.keys.sorted().first ?? "none")')")
    }
    let skipped = available.keys.filter { !used.contains($0) }.sorted()
    return InitReport(loaded: loaded, skipped: skipped, fresh: fresh)
}

/// Reads a checkpoint file, a safetensors error becoming a checkpoint error that names the file.
func readingCheckpoint<T>(_ path: String, _ read: () throws -> T) throws -> T {
    do { return try read() } catch let e as SafetensorsError { throw TrainingError.checkpoint(path: path, message: e.message) }
}
