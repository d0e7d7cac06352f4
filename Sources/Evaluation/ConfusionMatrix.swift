import CSV
import Foundation
import Plot

/// Counts of (true class, top-1 prediction) over labelled videos, classes 0-based.
public struct ConfusionMatrix: Sendable, Equatable {
    public var classNames: [String]
    /// counts[truth * K + predicted]
    public var counts: [Int]

    public init(classNames: [String], truth: [Int], predicted: [Int]) {
        self.classNames = classNames
        let K = classNames.count
        counts = [Int](repeating: 0, count: K * K)
        for (t, p) in zip(truth, predicted) { counts[t * K + p] += 1 }
    }

    public subscript(truth: Int, predicted: Int) -> Int { counts[truth * classNames.count + predicted] }

    /// The largest matrix that still reads as a picture.
    public static let maxPlottedClasses = 60

    /// CSV: a header of predicted class names, then one row per true class.
    public func csv() -> String {
        let K = classNames.count
        return CSVTable.render(header: ["truth \\ predicted"] + classNames,
                               rows: (0..<K).map { t in [classNames[t]] + (0..<K).map { String(self[t, $0]) } })
    }

    /// A gnuplot heat map of row-normalised counts (the fraction of each true class predicted as
    /// each class), with counts written in the cells when there are at most 20 classes.
    public func figure(name: String = "confusion", title: String) throws -> Gnuplot.Figure {
        let K = classNames.count
        guard K <= ConfusionMatrix.maxPlottedClasses else {
            throw EvaluationError.invalid("a confusion matrix of \(K) classes does not read as a picture (at most \(ConfusionMatrix.maxPlottedClasses)); its data is in the CSV")
        }
        var data = "# x=predicted y=truth fraction count\n"
        for t in 0..<K {
            let total = max(1, (0..<K).reduce(0) { $0 + self[t, $1] })
            for p in 0..<K { data += "\(p)\t\(t)\t\(Double(self[t, p]) / Double(total))\t\(self[t, p])\n" }
            data += "\n"
        }
        let tics = classNames.enumerated().map { "\(Gnuplot.quoted($1)) \($0)" }.joined(separator: ", ")
        let side = max(640, min(1600, 220 + 26 * K))
        let labels = K <= 20 ? """
             , "\(name).dat" using 1:2:($4 > 0 ? sprintf("%d", $4) : ""):($3 > 0.55 ? 0xffffff : 0x222222) with labels font ",9" tc rgb variable notitle
            """ : ""
        let script = """
            # Confusion matrix: rows are true classes, columns top-1 predictions; colour = fraction of the row.
            # Re-render from this folder with: gnuplot \(name).gp
            set encoding utf8
            set title \(Gnuplot.quoted(title)) noenhanced
            set xlabel "predicted class"
            set ylabel "true class"
            set xrange [-0.5:\(K) - 0.5]
            set yrange [\(K) - 0.5:-0.5]
            set xtics (\(tics)) rotate by 60 right noenhanced font ",9"
            set ytics (\(tics)) noenhanced font ",9"
            set cbrange [0:1]
            set cblabel "fraction of the true class"
            set palette defined (0 "#ffffff", 0.25 "#c6dbef", 0.5 "#6baed6", 0.75 "#2171b5", 1 "#08306b")
            set size ratio -1
            set tics scale 0
            set terminal pngcairo size \(side + 160),\(side) font "DejaVu Sans,11" background "white"
            set output "\(name).png"
            plot "\(name).dat" using 1:2:3 with image notitle\(labels)
            set terminal svg size \(side + 160),\(side) font "DejaVu Sans,11" background "white"
            set output "\(name).svg"
            replot
            unset output

            """
        return Gnuplot.Figure(name: name, dataFiles: ["\(name).dat": data, "\(name).csv": csv()], script: script,
                              outputs: ["\(name).png", "\(name).svg"])
    }
}
