/// Mean and sample standard deviation (n - 1; 0 for one value) of figures over seeds: the one
/// definition the report's tables, its plots and the gate share.
public struct MeanAndSpread: Equatable, Sendable {
    public var mean: Double
    public var sd: Double
    public var count: Int

    /// Nil for no values.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let n = Double(values.count)
        mean = values.reduce(0, +) / n
        let m = mean
        sd = values.count > 1 ? (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / (n - 1)).squareRoot() : 0
        count = values.count
    }

    /// "m ± sd (n)" with fractions shown in percent: a cell of the report's tables.
    public var percentCell: String { String(format: "%.1f ± %.1f (%d)", 100 * mean, 100 * sd, count) }
}
