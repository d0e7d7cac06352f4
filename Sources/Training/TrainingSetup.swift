import Data
import Engine
import Flow
import Foundation
import Models

/// Builds what a configuration trains: its network and its loaders, for the `train` and
/// `pretrain` commands and the Table 1 runner alike.
public enum TrainingSetup {
    /// The network with its seeded initial weights (generator "init" of the seed).
    public static func network(_ c: TrainingConfiguration) throws -> TrainableNetwork {
        var g = SeededGenerator(seed: c.seed).derived("init")
        if c.objective == .tclr {
            return .tclr(TCLRNetwork(backbone: c.model, inputChannels: c.modality.channels, width: c.width, generator: &g))
        }
        try c.validate()   // the one check of the clip (and the rest), wherever a network is built first
        let clip = c.clipSpec!
        return .classifier(ModelZoo.make(c.model, inputChannels: c.modality.channels, classes: c.classes, width: c.width,
                                         clip: [clip.frames, c.crop, c.crop], layerScale: c.layerScale, generator: &g))
    }

    public static func modality(_ c: TrainingConfiguration, flowRoot: String?) throws -> Modality {
        guard c.modality == .flow else { return .rgb }
        guard let flowRoot else { throw TrainingError.configuration("a flow configuration needs the extracted flow folder") }
        return .flow(root: flowRoot)
    }

    /// The frame index of what a configuration reads: the dataset's videos, or the extracted flow.
    public static func frameIndex(_ modality: Modality, dataset: VideoDataset) -> FrameIndex {
        if case .flow(let root) = modality { return FrameIndex(root: root) }
        return FrameIndex(root: dataset.root)
    }

    /// The file the frame index keys a video by: the video, or its extracted flow.
    public static func indexedPath(of item: VideoDataset.Item, _ modality: Modality) -> String {
        if case .flow(let root) = modality { return FlowVideo.videoPath(FlowVideo.base(root: root, split: item.split, id: item.id)) }
        return item.path
    }

    /// Training clips (shuffled, augmented; TCLR's views for the TCLR objective) and, for a
    /// classifier, validation views (the centre crop of the middle clip). `shard`: the part of every
    /// batch this process loads in data-parallel training (its share of the validation videos too).
    public static func loaders(_ c: TrainingConfiguration, dataset: VideoDataset, flowRoot: String?, workers: Int = 2,
                               cacheBytes: Int = 512_000_000, limit: Int? = nil,
                               world: Collective = SingleProcess()) throws -> (train: ClipLoader, validation: ClipLoader?) {
        let shard = ClipLoader.Shard(rank: world.rank, count: world.size)
        let modality = try modality(c, flowRoot: flowRoot)
        func items(_ split: String) -> [VideoDataset.Item] {
            let all = dataset.items(split: split).filter { !dataset.knownCorrupt.contains($0.id) }
            return limit.map { Array(all.prefix($0)) } ?? all
        }
        let train = items("train")
        guard !train.isEmpty else { throw TrainingError.data("\(dataset.root): the train split is empty") }
        let clip = c.clipSpec!
        var sampler: ClipSampler
        if c.objective == .tclr {
            sampler = ClipSampler(clip: clip, shortSide: c.shortSide, mode: .tclr(c.augmentation, localClips: c.tclrLocalClips),
                                  normalisation: c.normalisation.value, modality: modality)
        } else {
            sampler = ClipSampler(clip: clip, shortSide: c.shortSide, mode: .train(c.augmentation),
                                  normalisation: c.normalisation.value, modality: modality)
            sampler.augmentedCopies = c.augmentedCopies
        }
        let index = frameIndex(modality, dataset: dataset)
        let val = items("val")
        if world.size > 1 {
            let all = c.objective == .supervised ? train + val : train
            DataParallel.shareFrameIndex(index, paths: all.map { indexedPath(of: $0, modality) }, over: world, jobs: workers)
        }
        let trainLoader = ClipLoader(items: train, sampler: sampler, batchSize: c.batch, workers: workers, seed: c.seed,
                                     shuffle: true, cacheBytes: cacheBytes, frameIndex: index, shard: shard)
        guard c.objective == .supervised, !val.isEmpty else { return (trainLoader, nil) }
        let valSampler = ClipSampler(clip: clip, shortSide: c.shortSide,
                                     mode: .test(crops: 1, clips: 1, rule: .slowfastOffset, cropRule: .slowfast, size: c.crop),
                                     normalisation: c.normalisation.value, modality: modality)
        return (trainLoader, ClipLoader(items: val, sampler: valSampler, batchSize: c.batch, workers: workers, seed: c.seed,
                                        shuffle: false, cacheBytes: cacheBytes, frameIndex: index, shard: shard))
    }
}
