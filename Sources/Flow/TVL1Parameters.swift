/// The parameters of TV-L1 optical flow (Zach, Pock and Bischof 2007; the report's equation 5),
/// named as OpenCV's `DualTVL1OpticalFlow` names them, with the presets the common tools use.
public struct TVL1Parameters: Codable, Equatable, Sendable {
    /// Time step of the dual update (stable for tau <= 0.25).
    public var tau: Double = 0.25
    /// Weight of the data term (smaller: smoother flow).
    public var lambda: Double = 0.15
    /// Coupling between the flow and its thresholded copy.
    public var theta: Double = 0.3
    /// Pyramid levels at most (fewer when a level would be under `minimumLevelSize` pixels).
    public var scales: Int = 5
    /// Warps (linearisations of the data term) per level.
    public var warps: Int = 5
    /// Stop a warp's iterations when the mean squared flow change falls to epsilon^2.
    public var epsilon: Double = 0.01
    /// Iterations between median filterings; OpenCV's `innerIterations`.
    public var innerIterations: Int = 30
    /// Median filterings per warp; OpenCV's `outerIterations` (at most inner x outer iterations).
    public var outerIterations: Int = 10
    /// Size ratio between pyramid levels.
    public var scaleStep: Double = 0.8
    /// Median filter of the flow before each outer iteration: 0 or 1 (off), 3 or 5.
    public var medianFiltering: Int = 5
    /// Gaussian smoothing of the images before the pyramid (and of each level before it is
    /// shrunk), as the IPOL code does; 0 = none (OpenCV).
    public var presmoothingSigma: Double = 0
    /// The coarsest level keeps at least this many pixels in each direction.
    public var minimumLevelSize: Int = 16

    public init() {}

    /// OpenCV's CPU defaults (`cv::optflow::DualTVL1OpticalFlow`), what mmaction2's CPU
    /// extraction uses.
    public static let opencvCPU = TVL1Parameters()

    /// OpenCV's CUDA defaults (`cv::cuda::OpticalFlowDual_TVL1`, used by denseflow and other GPU
    /// tools): one loop of at most 300 iterations per warp, no median filter.
    public static let opencvCUDA: TVL1Parameters = {
        var p = TVL1Parameters()
        p.innerIterations = 300
        p.outerIterations = 1
        p.medianFiltering = 0
        return p
    }()

    /// The IPOL reference's defaults (Sanchez, Meinhardt-Llopis and Facciolo 2013): zoom 0.5 down
    /// to 16 pixels, 5 warps, epsilon 0.01, at most 300 iterations per warp, Gaussian
    /// pre-smoothing sigma 0.8, no median filter. The discretisation stays OpenCV's.
    public static let ipol: TVL1Parameters = {
        var p = TVL1Parameters()
        p.scales = 100
        p.scaleStep = 0.5
        p.innerIterations = 300
        p.outerIterations = 1
        p.medianFiltering = 0
        p.presmoothingSigma = 0.8
        return p
    }()

    /// Why the parameters cannot run, or nil.
    public var problem: String? {
        if !(tau > 0 && tau <= 0.25) { return "tau must be in (0, 0.25] (the dual step is unstable above), got \(tau)" }
        if !(lambda > 0) { return "lambda must be positive, got \(lambda)" }
        if !(theta > 0) { return "theta must be positive, got \(theta)" }
        if scales < 1 { return "scales must be at least 1, got \(scales)" }
        if warps < 1 { return "warps must be at least 1, got \(warps)" }
        if !(epsilon >= 0) { return "epsilon must not be negative, got \(epsilon)" }
        if innerIterations < 1 || outerIterations < 1 { return "iterations must be at least 1" }
        if !(scaleStep > 0 && scaleStep < 1) { return "scale step must be in (0, 1), got \(scaleStep)" }
        if ![0, 1, 3, 5].contains(medianFiltering) { return "median filtering must be 0, 1, 3 or 5, got \(medianFiltering)" }
        if !(presmoothingSigma >= 0) { return "pre-smoothing sigma must not be negative" }
        if minimumLevelSize < 4 { return "the smallest level must be at least 4 pixels" }
        return nil
    }
}

/// A named set of parameters, recorded with every flow file.
public enum FlowPreset: String, CaseIterable, Codable, Sendable {
    case opencvCPU = "opencv-cpu"
    case opencvCUDA = "opencv-cuda"
    case ipol

    public var parameters: TVL1Parameters {
        switch self {
        case .opencvCPU: return .opencvCPU
        case .opencvCUDA: return .opencvCUDA
        case .ipol: return .ipol
        }
    }

    public var summary: String {
        switch self {
        case .opencvCPU: return "OpenCV CPU defaults: 5 scales x0.8, 5 warps, 10 x 30 iterations, median 5 (mmaction2's CPU extraction)"
        case .opencvCUDA: return "OpenCV CUDA defaults: 5 scales x0.8, 5 warps, 300 iterations, no median (denseflow)"
        case .ipol: return "IPOL 2013 defaults: zoom 0.5 to 16 px, 5 warps, 300 iterations, Gaussian sigma 0.8, no median"
        }
    }
}
