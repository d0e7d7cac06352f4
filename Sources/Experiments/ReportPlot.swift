import Foundation
import Plot

/// Paper against reproduced, per Table 1 row: the paper's figure (grey, labelled as the paper's)
/// beside vipbench's mean over seeds with the seed spread, at the row's own views.
public enum ReportPlot {
    public static func figure(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome]) -> Gnuplot.Figure {
        let name = "reproduced-\(profile.rawValue)"
        var data = "# row\tlabel\tpaper_top1_percent\tvipbench_mean_percent\tvipbench_sd_percent\tseeds\n"
        data += "# paper_top1_percent is the paper's (Kinetics400ViPriors, full size); vipbench's is profile \(profile.rawValue).\n"
        for c in configurations {
            let v = outcomes.filter { $0.key == ReportFigures.rowKey(c.row) && $0.failure == nil }.compactMap { $0.top1[c.test.views] }
            let spread = MeanAndSpread(v)
            data += "\(c.row.rawValue)\trow \(c.row.rawValue): \(ReportFigures.label(c)) \(c.test.views)\t\(c.row.paperTop1)\t\(spread.map { String(100 * $0.mean) } ?? "NaN")\t\(100 * (spread?.sd ?? 0))\t\(v.count)\n"
        }
        let script = """
            # Table 1: the paper's validation top-1 (grey, the paper's numbers) and vipbench's (\(profile.rawValue) profile,
            # mean over seeds, bars = standard deviation). Re-render from this folder with: gnuplot \(name).gp
            set encoding utf8
            set datafile separator "\\t"
            set title "Table 1: the paper's figures and vipbench's (\(profile.rawValue) profile)\\n{/*0.8 grey: reported in the paper, not measured by vipbench; blue: measured here, mean and spread over seeds}"
            set ylabel "validation top-1 (%)"
            set yrange [0:100]
            set style data histograms
            set style histogram errorbars gap 1 lw 1
            set errorbars lc rgb "#333333"
            set style fill solid 0.85 noborder
            set xtics rotate by -25 noenhanced nomirror
            set grid ytics lc rgb "#dddddd"
            set key top right
            set terminal pngcairo size 1200,640 enhanced font "DejaVu Sans,11" background "white"
            set output "\(name).png"
            plot "\(name).dat" using 3:(0):xtic(2) lc rgb "#9a9a9a" title "paper (Kinetics400ViPriors, full size)", \\
                 "" using 4:5 lc rgb "#3b6fb6" title "vipbench, \(profile.rawValue) profile"
            set terminal svg size 1200,640 enhanced font "DejaVu Sans,11" background "white"
            set output "\(name).svg"
            replot
            unset output
            """
        return Gnuplot.Figure(name: name, dataFiles: ["\(name).dat": data], script: script, outputs: ["\(name).png", "\(name).svg"])
    }
}
