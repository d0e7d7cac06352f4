import Foundation
import Plot
import Store

/// The first comparison plot: Table 1's validation top-1 per row, one horizontal bar each, labelled
/// with model, modality, pretraining, clip (frames x skip @ crop side) and test views.
public enum Table1Plot {
    public static let name = "table1"
    public static let pixelSize = (width: 1200, height: 640)

    /// A bar label such as "R3D-50 · RGB · TCLR · 16x2 @224 · 3x10 views".
    public static func label(_ r: ReferenceResult) -> String {
        let pre = r.pretraining.lowercased() == "none" ? "scratch" : r.pretraining
        return "\(r.model) · \(r.modality.uppercased()) · \(pre) · \(r.clip) @\(r.resolution) · \(r.views) views"
    }

    /// The figure for the given reference rows (their `val`/`top1` numbers, in Table 1 order).
    public static func figure(references: [ReferenceResult]) throws -> Gnuplot.Figure {
        let rows = references.filter { $0.split == "val" && $0.metric == "top1" }
            .sorted { ($0.source, $0.tableRow) < ($1.source, $1.tableRow) }
        guard !rows.isEmpty else {
            throw HarnessError.noData("no Table 1 reference numbers (val top-1) in the results store; "
                + "run `vipbench reference import` first")
        }
        var data = "# Table 1 of the Knights VIPriors 2021 report: the paper's figures, not measured by vipbench.\n"
        data += "# row\tlabel\tmodality\tval_top1_percent\n"
        for r in rows {
            data += "\(r.tableRow)\t\(r.tableRow). \(label(r))\t\(r.modality)\t\(r.value)\n"
        }
        let top = max(90, (rows.map(\.value).max() ?? 0) + 20)
        let (w, h) = pixelSize
        let script = """
            # Table 1 of the Knights report (VIPriors 2021): validation top-1 on Kinetics400ViPriors.
            # The numbers are the paper's (imported from results/reference/table1.csv), not vipbench's own.
            # Re-render from this folder with: gnuplot \(name).gp
            set encoding utf8
            set datafile separator "\\t"
            set datafile commentschars "#"
            set title "Knights, VIPriors 2021 — Table 1: validation top-1 on Kinetics400ViPriors\\n{/*0.8 reported in the paper (not measured by vipbench)}"
            set xlabel "validation top-1 accuracy (%)"
            set xrange [0:\(Int(top))]
            set yrange [\(rows.count) + 0.5:0.5]
            set ytics scale 0 nomirror noenhanced
            set xtics nomirror out
            set grid xtics lc rgb "#dddddd"
            set border 3
            set style fill solid 0.85 noborder
            set key at graph 0.98, graph 0.64 right top box opaque samplen 2 width -2
            set lmargin 52
            set terminal pngcairo size \(w),\(h) enhanced font "DejaVu Sans,12" background "white"
            set output "\(name).png"
            plot "\(name).dat" using (strcol(3) eq "rgb" ? $4/2 : 1/0):($0+1):($4/2):(0.36) \\
                   with boxxyerror lc rgb "#3b6fb6" title "RGB", \\
                 "" using (strcol(3) eq "flow" ? $4/2 : 1/0):($0+1):($4/2):(0.36) \\
                   with boxxyerror lc rgb "#e08a2c" title "optical flow (TV-L1)", \\
                 "" using ($4 + 0.6):($0+1):(sprintf("%.1f", $4)):ytic(2) with labels left notitle
            set terminal svg size \(w),\(h) enhanced font "DejaVu Sans,12" background "white"
            set output "\(name).svg"
            replot
            unset output

            """
        return Gnuplot.Figure(name: name, dataFiles: ["\(name).dat": data], script: script,
                              outputs: ["\(name).png", "\(name).svg"])
    }
}

public enum HarnessError: Error, CustomStringConvertible {
    case noData(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .noData(let s), .invalid(let s): return s
        }
    }
}
