import Engine
import Foundation

/// How test-time crops are placed (protocols.md).
public enum CropRule: String, CaseIterable, Codable, Sendable {
    /// SlowFast: centre offset ceil((L - size) / 2).
    case slowfast
    /// mmaction2: centre offset floor((L - size) / 2).
    case mmaction

    func centre(_ length: Int, _ size: Int) -> Int {
        let d = max(length - size, 0)
        return self == .slowfast ? (d + 1) / 2 : d / 2
    }
}

/// Test-time spatial crops: 1 centre crop, or 3 square crops along the long side (start, centre,
/// end) that together cover the frame.
public enum TestCrop {
    /// The top-left corner of crop `index` of `count` (1 or 3), `size` x `size`, in a frame.
    public static func origin(index: Int, of count: Int, size: Int, width: Int, height: Int, rule: CropRule) -> (x: Int, y: Int) {
        precondition(count == 1 || count == 3, "1 or 3 test crops")
        precondition(size <= width && size <= height, "crop \(size) larger than \(width)x\(height)")
        let cx = rule.centre(width, size), cy = rule.centre(height, size)
        if count == 1 { return (cx, cy) }
        let offsets = { (length: Int) in [0, rule.centre(length, size), length - size] }
        return width >= height ? (offsets(width)[index], cy) : (cx, offsets(height)[index])
    }

    public static func apply(_ clip: ClipPixels, index: Int, of count: Int, size: Int, rule: CropRule) -> ClipPixels {
        let o = origin(index: index, of: count, size: size, width: clip.width, height: clip.height, rule: rule)
        return clip.cropped(x: o.x, y: o.y, width: size, height: size)
    }
}

/// Training augmentation: TCLR's set and torchvision's random resized crop. Every parameter is
/// drawn once per clip (`Augmentation.draw`) and applied to all its frames.
public struct AugmentationConfig: Equatable, Sendable {
    public enum Crop: Equatable, Sendable {
        /// torchvision's RandomResizedCrop: area fraction and aspect ratio ranges, 10 tries, then centre.
        case randomResized(scale: ClosedRange<Double>, ratio: ClosedRange<Double>)
        /// TCLR: a random square of side U(low, high) x the short side.
        case randomSquare(low: Double, high: Double)
        /// The centre square of the short side.
        case centre
        /// A random `size` x `size` window, not resized (torchvision's RandomCrop; the scaled profiles).
        case randomFixed(size: Int)
    }

    public var outputSize: Int
    public var crop: Crop
    public var flipProbability: Double
    /// Colour jitter factors (brightness, contrast, saturation in 1 +- x; hue shift in +- x turns), applied with `jitterProbability`.
    public var brightness: Double, contrast: Double, saturation: Double, hue: Double
    public var jitterProbability: Double
    public var grayscaleProbability: Double
    public var channelDropProbability: Double
    public var erasingProbability: Double
    /// For flow input: negate this channel (x) when flipping; colour transforms are skipped.
    public var flowXChannel: Int?
    /// RandAugment (the MViT recipe), drawn once per clip; applied after the crop and flip.
    public var randAugment: RandAugmentConfig?

    public init(outputSize: Int, crop: Crop, flipProbability: Double = 0.5, brightness: Double = 0, contrast: Double = 0,
                saturation: Double = 0, hue: Double = 0, jitterProbability: Double = 0, grayscaleProbability: Double = 0,
                channelDropProbability: Double = 0, erasingProbability: Double = 0, flowXChannel: Int? = nil) {
        self.outputSize = outputSize; self.crop = crop; self.flipProbability = flipProbability
        self.brightness = brightness; self.contrast = contrast; self.saturation = saturation; self.hue = hue
        self.jitterProbability = jitterProbability; self.grayscaleProbability = grayscaleProbability
        self.channelDropProbability = channelDropProbability; self.erasingProbability = erasingProbability
        self.flowXChannel = flowXChannel
    }

    /// TCLR's augmentations (protocols.md), at `size` (112 in the report).
    public static func tclr(size: Int = 112) -> AugmentationConfig {
        AugmentationConfig(outputSize: size, crop: .randomSquare(low: 0.6, high: 1), flipProbability: 0.5,
                           brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, jitterProbability: 0.8,
                           grayscaleProbability: 0.2, channelDropProbability: 0.2, erasingProbability: 0.2)
    }

    /// A supervised training default: random resized crop (0.08-1, 3/4-4/3) and flips.
    public static func supervised(size: Int) -> AugmentationConfig {
        AugmentationConfig(outputSize: size, crop: .randomResized(scale: 0.08...1, ratio: 0.75...(4.0 / 3)))
    }
}

/// The parameters drawn for one clip.
public struct Augmentation: Equatable, Sendable {
    public var crop: (x: Int, y: Int, width: Int, height: Int)
    public var flip: Bool
    /// Brightness, contrast, saturation factors and hue shift (turns), or nil for no jitter.
    public var jitter: [Double]?
    public var grayscale: Bool
    /// The channel set to zero, if any.
    public var droppedChannel: Int?
    /// The erased rectangle in output coordinates, if any.
    public var erase: (x: Int, y: Int, width: Int, height: Int)?
    /// RandAugment's operations for this clip, in order.
    public var randAugment: [RandAugmentStep] = []

    public static func == (a: Augmentation, b: Augmentation) -> Bool {
        a.crop == b.crop && a.flip == b.flip && a.jitter == b.jitter && a.grayscale == b.grayscale
            && a.droppedChannel == b.droppedChannel && a.erase?.x == b.erase?.x && a.erase?.y == b.erase?.y
            && a.erase?.width == b.erase?.width && a.erase?.height == b.erase?.height && a.randAugment == b.randAugment
    }

    /// Draws every parameter for a clip of `width` x `height` frames.
    public static func draw(_ config: AugmentationConfig, width: Int, height: Int, generator g: inout SeededGenerator) -> Augmentation {
        let crop: (Int, Int, Int, Int)
        switch config.crop {
        case .centre:
            let s = min(width, height)
            crop = ((width - s) / 2, (height - s) / 2, s, s)
        case .randomFixed(let size):
            let s = min(size, width, height)
            crop = (g.int(below: width - s + 1), g.int(below: height - s + 1), s, s)
        case .randomSquare(let low, let high):
            let s = max(1, min(min(width, height), Int(Double(min(width, height)) * g.uniform(low, high))))
            crop = (g.int(below: width - s + 1), g.int(below: height - s + 1), s, s)
        case .randomResized(let scale, let ratio):
            var found: (Int, Int, Int, Int)?
            let area = Double(width * height)
            for _ in 0..<10 {
                let target = area * g.uniform(scale.lowerBound, scale.upperBound)
                let logRatio = g.uniform(Foundation.log(ratio.lowerBound), Foundation.log(ratio.upperBound))
                let r = Foundation.exp(logRatio)
                let w = Int((target * r).squareRoot().rounded()), h = Int((target / r).squareRoot().rounded())
                if w > 0 && h > 0 && w <= width && h <= height {
                    found = (g.int(below: width - w + 1), g.int(below: height - h + 1), w, h)
                    break
                }
            }
            if found == nil {
                let s = min(width, height)
                found = ((width - s) / 2, (height - s) / 2, s, s)
            }
            crop = found!
        }
        let flip = g.uniform() < config.flipProbability
        var jitter: [Double]?
        let colour = config.flowXChannel == nil
        if colour && config.jitterProbability > 0 && g.uniform() < config.jitterProbability {
            jitter = [g.uniform(max(0, 1 - config.brightness), 1 + config.brightness),
                      g.uniform(max(0, 1 - config.contrast), 1 + config.contrast),
                      g.uniform(max(0, 1 - config.saturation), 1 + config.saturation),
                      g.uniform(-config.hue, config.hue)]
        }
        let gray = colour && g.uniform() < config.grayscaleProbability
        let drop: Int? = colour && g.uniform() < config.channelDropProbability ? g.int(below: 3) : nil
        var erase: (Int, Int, Int, Int)?
        if g.uniform() < config.erasingProbability {
            // torchvision RandomErasing defaults: area 2-33 %, ratio 0.3-3.3.
            let s = config.outputSize
            let target = Double(s * s) * g.uniform(0.02, 0.33)
            let r = Foundation.exp(g.uniform(Foundation.log(0.3), Foundation.log(3.3)))
            let w = min(s, max(1, Int((target * r).squareRoot()))), h = min(s, max(1, Int((target / r).squareRoot())))
            erase = (g.int(below: s - w + 1), g.int(below: s - h + 1), w, h)
        }
        var a = Augmentation(crop: crop, flip: flip, jitter: jitter, grayscale: gray, droppedChannel: drop, erase: erase)
        // Drawn last, so configurations without it draw exactly what they drew before.
        if let r = config.randAugment, colour { a.randAugment = RandAugmentStep.draw(r, generator: &g) }
        return a
    }

    /// Applies the drawn parameters to every frame of a clip.
    public func apply(_ clip: ClipPixels, config: AugmentationConfig) -> ClipPixels {
        var c = clip.cropped(x: crop.x, y: crop.y, width: crop.width, height: crop.height)
            .resized(width: config.outputSize, height: config.outputSize)
        if flip { c = c.flippedHorizontally(negating: config.flowXChannel) }
        for step in randAugment { c = step.apply(c) }
        if let jitter, c.channels == 3 { c = ColourOps.jitter(c, brightness: jitter[0], contrast: jitter[1], saturation: jitter[2], hue: jitter[3]) }
        if grayscale && c.channels == 3 { c = ColourOps.grayscale(c) }
        if let d = droppedChannel, c.channels == 3 {
            for i in stride(from: d, to: c.data.count, by: 3) { c.data[i] = 0 }
        }
        if let e = erase {
            for t in 0..<c.frames { for y in e.y..<(e.y + e.height) { for x in e.x..<(e.x + e.width) { for ch in 0..<c.channels {
                c.data[((t * c.height + y) * c.width + x) * c.channels + ch] = 0
            } } } }
        }
        return c
    }
}

/// Colour transforms on RGB clips in [0, 1].
public enum ColourOps {
    static func luma(_ r: Float, _ g: Float, _ b: Float) -> Float { 0.299 * r + 0.587 * g + 0.114 * b }

    public static func grayscale(_ clip: ClipPixels) -> ClipPixels {
        var c = clip
        for i in stride(from: 0, to: c.data.count, by: 3) {
            let y = luma(c.data[i], c.data[i + 1], c.data[i + 2])
            c.data[i] = y; c.data[i + 1] = y; c.data[i + 2] = y
        }
        return c
    }

    /// torchvision's order: brightness, contrast (against the clip's mean grey), saturation, hue.
    public static func jitter(_ clip: ClipPixels, brightness: Double, contrast: Double, saturation: Double, hue: Double) -> ClipPixels {
        var c = clip
        let (b, ct, s) = (Float(brightness), Float(contrast), Float(saturation))
        var meanGray: Float = 0
        for i in stride(from: 0, to: c.data.count, by: 3) {
            for k in 0..<3 { c.data[i + k] = min(1, max(0, c.data[i + k] * b)) }
            meanGray += luma(c.data[i], c.data[i + 1], c.data[i + 2])
        }
        meanGray /= Float(max(1, c.data.count / 3))
        for i in stride(from: 0, to: c.data.count, by: 3) {
            for k in 0..<3 { c.data[i + k] = min(1, max(0, (c.data[i + k] - meanGray) * ct + meanGray)) }
            let y = luma(c.data[i], c.data[i + 1], c.data[i + 2])
            for k in 0..<3 { c.data[i + k] = min(1, max(0, (c.data[i + k] - y) * s + y)) }
            if hue != 0 {
                var (h, sat, v) = rgbToHSV(c.data[i], c.data[i + 1], c.data[i + 2])
                h = (h + Float(hue)).truncatingRemainder(dividingBy: 1)
                if h < 0 { h += 1 }
                (c.data[i], c.data[i + 1], c.data[i + 2]) = hsvToRGB(h, sat, v)
            }
        }
        return c
    }

    static func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        let mx = max(r, g, b), mn = min(r, g, b), d = mx - mn
        var h: Float = 0
        if d > 0 {
            if mx == r { h = ((g - b) / d).truncatingRemainder(dividingBy: 6) }
            else if mx == g { h = (b - r) / d + 2 }
            else { h = (r - g) / d + 4 }
            h /= 6
            if h < 0 { h += 1 }
        }
        return (h, mx > 0 ? d / mx : 0, mx)
    }

    static func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let i = Int(h * 6) % 6, f = h * 6 - Float(Int(h * 6))
        let p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s)
        switch i {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }
}
