import Engine
import Foundation

/// The embedded default dataset: short videos whose class is defined by motion only.
///
/// Ten classes in five time-reversed pairs: moving left / right, up / down, rotating clockwise /
/// anticlockwise, growing / shrinking, fading in / out. Every class draws from one appearance
/// distribution (random shape, colour and stripe texture for the actor; a textured background
/// panning with camera jitter; drifting distractor shapes; sensor noise; random speed, size and
/// position). The actor's state is `centre + velocity * (t - middle)`; a class and its partner
/// differ only in the sign of the velocity, so a single frame carries no class information and a
/// video played backwards is a valid video of the partner class.
public enum SyntheticMotion {
    public static let classNames = ["moving left", "moving right", "moving up", "moving down",
                                    "rotating clockwise", "rotating anticlockwise", "growing", "shrinking",
                                    "fading in", "fading out"]

    /// The time-reversed partner of a class.
    public static func partner(_ c: Int) -> Int { c ^ 1 }

    /// Everything that defines one video, drawn from the seeded generator.
    public struct Script: Equatable, Sendable {
        public var label: Int
        public var frames: Int
        public var width: Int, height: Int
        /// Actor state at the middle frame and its change per frame.
        public var centre: ActorState
        public var velocity: ActorState
        public var shape: Int                 // 0 triangle, 1 rectangle, 2 ellipse, 3 arrow
        public var colour: [Float]            // RGB
        public var stripeFrequency: Float, stripeAngle: Float
        public var background: [Float]        // two RGB colours, 6 values
        public var backgroundFrequency: [Float], backgroundPan: [Float], backgroundPhase: [Float]
        public var distractors: [(x: Float, y: Float, vx: Float, vy: Float, size: Float, colour: [Float])]
        public var jitterSeed: UInt64
        public var noise: Float

        public static func == (a: Script, b: Script) -> Bool {
            a.label == b.label && a.frames == b.frames && a.centre == b.centre && a.velocity == b.velocity
                && a.shape == b.shape && a.colour == b.colour && a.jitterSeed == b.jitterSeed
        }

        /// The actor's state at frame t.
        public func state(at t: Int) -> ActorState {
            let d = Float(t) - Float(frames - 1) / 2
            return ActorState(x: centre.x + velocity.x * d, y: centre.y + velocity.y * d, angle: centre.angle + velocity.angle * d,
                              scale: centre.scale + velocity.scale * d, alpha: centre.alpha + velocity.alpha * d)
        }
    }

    public struct ActorState: Equatable, Sendable {
        public var x: Float, y: Float, angle: Float, scale: Float, alpha: Float
        public init(x: Float, y: Float, angle: Float, scale: Float, alpha: Float) {
            self.x = x; self.y = y; self.angle = angle; self.scale = scale; self.alpha = alpha
        }
        public static let zero = ActorState(x: 0, y: 0, angle: 0, scale: 0, alpha: 0)
    }

    /// Draws a video of class `label`.
    public static func script(label: Int, width: Int = 128, height: Int = 96, generator g: inout SeededGenerator) -> Script {
        let frames = 40 + g.int(below: 17)           // 40..56 frames
        let half = Float(frames - 1) / 2
        let (w, h) = (Float(width), Float(height))
        var centre = ActorState(x: Float(g.uniform(0.35, 0.65)) * w, y: Float(g.uniform(0.35, 0.65)) * h,
                                angle: Float(g.uniform(0, 2 * Double.pi)), scale: Float(g.uniform(0.12, 0.2)) * h,
                                alpha: 1)
        var v = ActorState.zero
        let sign: Float = label % 2 == 0 ? -1 : 1   // the first of each pair moves "backwards"
        switch label / 2 {
        case 0: v.x = sign * Float(g.uniform(0.25, 0.45)) * w / half / 2
        case 1: v.y = sign * Float(g.uniform(0.25, 0.45)) * h / half / 2
        case 2: v.angle = -sign * Float(g.uniform(0.6, 1.4)) * .pi / half   // clockwise: angle decreasing on screen? see render
        case 3: v.scale = -sign * centre.scale * Float(g.uniform(0.35, 0.6)) / half
        default:
            centre.alpha = 0.5
            v.alpha = -sign * Float(g.uniform(0.4, 0.5)) / half
        }
        func colour() -> [Float] { (0..<3).map { _ in Float(g.uniform(0.1, 0.95)) } }
        let distractorCount = 1 + g.int(below: 3)
        let distractors = (0..<distractorCount).map { _ -> (x: Float, y: Float, vx: Float, vy: Float, size: Float, colour: [Float]) in
            let angle = g.uniform(0, 2 * Double.pi), speed = g.uniform(0, 0.8)
            return (Float(g.uniform(0, Double(w))), Float(g.uniform(0, Double(h))), Float(cos(angle) * speed), Float(sin(angle) * speed),
                    Float(g.uniform(3, 7)), colour())
        }
        let panAngle = g.uniform(0, 2 * Double.pi), panSpeed = g.uniform(0, 0.6)
        return Script(label: label, frames: frames, width: width, height: height, centre: centre, velocity: v,
                      shape: g.int(below: 4), colour: colour(), stripeFrequency: Float(g.uniform(0.5, 2.5)),
                      stripeAngle: Float(g.uniform(0, Double.pi)), background: colour() + colour(),
                      backgroundFrequency: [Float(g.uniform(0.03, 0.15)), Float(g.uniform(0.03, 0.15))],
                      backgroundPan: [Float(cos(panAngle) * panSpeed), Float(sin(panAngle) * panSpeed)],
                      backgroundPhase: [Float(g.uniform(0, 6.3)), Float(g.uniform(0, 6.3))],
                      distractors: distractors, jitterSeed: g.next(), noise: Float(g.uniform(0.01, 0.04)))
    }

    /// Renders frame t as 8-bit RGB.
    public static func render(_ s: Script, frame t: Int) -> [UInt8] {
        let (w, h) = (s.width, s.height)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        // Per-frame camera jitter and noise come from a generator keyed by (video, frame), so that
        // each frame is the same whichever order frames are rendered in.
        var fg = SeededGenerator(seed: s.jitterSeed &+ UInt64(t) &* 0x9E37_79B9_7F4A_7C15)
        let d = Float(t) - Float(s.frames - 1) / 2
        let jx = Float(fg.uniform(-1, 1)), jy = Float(fg.uniform(-1, 1))
        let bx = s.backgroundPan[0] * d + jx, by = s.backgroundPan[1] * d + jy
        let a = s.state(at: t)
        let (ca, sa) = (cos(a.angle), sin(a.angle))
        let (cs, ss) = (cos(s.stripeAngle), sin(s.stripeAngle))
        let alpha = min(1, max(0, a.alpha))
        for y in 0..<h {
            for x in 0..<w {
                let (fx, fy) = (Float(x) + bx, Float(y) + by)
                // Background: two colours mixed by a product of gratings.
                let m = 0.5 + 0.25 * sin(fx * s.backgroundFrequency[0] + s.backgroundPhase[0])
                    + 0.25 * sin(fy * s.backgroundFrequency[1] + s.backgroundPhase[1] + 0.3 * sin(fx * 0.05))
                var rgb = (0..<3).map { s.background[$0] * m + s.background[3 + $0] * (1 - m) }
                for dd in s.distractors {
                    let px = dd.x + dd.vx * Float(t) + jx, py = dd.y + dd.vy * Float(t) + jy
                    if abs(Float(x) - px) < dd.size && abs(Float(y) - py) < dd.size { rgb = dd.colour }
                }
                // The actor, in its own rotated and scaled frame (y down on screen: a positive
                // angle turns clockwise as seen).
                let (dx, dy) = ((Float(x) - a.x) / max(a.scale, 1), (Float(y) - a.y) / max(a.scale, 1))
                let u = ca * dx + sa * dy, v = -sa * dx + ca * dy
                if inside(shape: s.shape, u, v) {
                    let stripe: Float = sin((u * cs + v * ss) * s.stripeFrequency * 3.2) > 0 ? 1 : 0.55
                    for c in 0..<3 { rgb[c] = alpha * s.colour[c] * stripe + (1 - alpha) * rgb[c] }
                }
                for c in 0..<3 {
                    let n = Float(fg.normal()) * s.noise
                    out[(y * w + x) * 3 + c] = UInt8(max(0, min(255, (rgb[c] + n) * 255)).rounded())
                }
            }
        }
        return out
    }

    /// Shapes in the unit square around the actor's centre; none is mirror- or rotation-symmetric
    /// in a way that hides rotation (the stripes turn with the shape too).
    static func inside(shape: Int, _ u: Float, _ v: Float) -> Bool {
        switch shape {
        case 0: return v < 0.8 && v > -0.8 + 1.6 * abs(u) * 0.9 - 0.0 && abs(u) < 0.9   // triangle
        case 1: return abs(u) < 1 && abs(v) < 0.55                                   // rectangle
        case 2: return (u * u) / 1.0 + (v * v) / 0.36 < 1                              // ellipse
        default: return (abs(v) < 0.25 && u > -1 && u < 0.4) || (u >= 0.4 && u < 1 && abs(v) < (1 - u) * 1.2)  // arrow
        }
    }

    /// The class a trajectory shows: the dominant change between its first and last frames.
    /// (Used to check the time-reversal property.)
    public static func classify(_ states: [ActorState], width: Int, height: Int) -> Int {
        guard let first = states.first, let last = states.last else { return -1 }
        let changes: [(Int, Float)] = [
            (0, (last.x - first.x) / Float(width)), (1, (last.y - first.y) / Float(height)),
            (2, (last.angle - first.angle) / (2 * .pi)), (3, (last.scale - first.scale) / max(first.scale, last.scale)),
            (4, last.alpha - first.alpha),
        ]
        let (kind, delta) = changes.max { abs($0.1) < abs($1.1) }!
        // Pairs: even = decreasing x / y / clockwise (angle increasing on screen means clockwise here: see render), ...
        switch kind {
        case 0: return delta < 0 ? 0 : 1
        case 1: return delta < 0 ? 2 : 3
        case 2: return delta > 0 ? 4 : 5
        case 3: return delta > 0 ? 6 : 7
        default: return delta > 0 ? 8 : 9
        }
    }
}
