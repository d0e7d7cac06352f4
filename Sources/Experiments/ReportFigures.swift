import Data
import Foundation
import Plot
import Training

/// The report's comparison plots beside the Table 1 figure: training curves, accuracy against
/// cost, TCLR against scratch, the ensemble's gain and the seed spread. Each is drawn from the
/// runner's outcomes (what this run measured or found recorded), with its data and script.
public enum ReportFigures {
    public static func all(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome],
                           gmacs: [Table1Row: Double]) -> [Gnuplot.Figure] {
        let chance = 100 / Double(max(configurations.first?.training.classes ?? 1, 1))
        return [
            curves(profile: profile, configurations: configurations, outcomes: outcomes, chance: chance),
            cost(profile: profile, configurations: configurations, outcomes: outcomes, gmacs: gmacs, chance: chance),
            tclr(profile: profile, outcomes: outcomes, chance: chance),
            ensemble(profile: profile, configurations: configurations, outcomes: outcomes, chance: chance),
            seeds(profile: profile, configurations: configurations, outcomes: outcomes, chance: chance),
        ] + [sweep(profile: profile, configurations: configurations, outcomes: outcomes, chance: chance)].compactMap { $0 }
    }

    /// The file names `all` draws, in its order, for the report to link.
    public static func names(_ profile: Profile, sweep: Bool = false) -> [(name: String, caption: String)] {
        let p = profile.rawValue
        let sweepFigure = ("sweep-\(p)", "the crop and sampling sweep: validation top-1 against clips per video under each temporal rule and crop rule, 3 crops")
        return [("curves-\(p)", "training curves (mean over seeds): TCLR pretraining loss, training loss, validation top-1"),
                ("cost-\(p)", "validation top-1 against GMACs per video, for each row's view schemes"),
                ("tclr-\(p)", "TCLR pretraining against training from scratch (R3D-18, rows 7 and 6), per seed"),
                ("ensemble-\(p)", "the ensemble against its members"),
                ("seeds-\(p)", "every seed's validation top-1 per row")] + (sweep ? [sweepFigure] : [])
    }

    // MARK: Figures

    /// Three panels over epochs: pretraining loss (TCLR rows), training loss, validation top-1;
    /// one line per row, the mean over its seeds at each epoch they all reached.
    static func curves(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome], chance: Double) -> Gnuplot.Figure {
        let name = "curves-\(profile.rawValue)"
        var data = "# epoch (1-based)\tmean loss\tlr\tvalidation top-1 (%, NaN when not validated)\tseeds\n"
        var blocks: [(stage: String, index: Int, row: Int, title: String)] = []
        for stage in ["pretrain", "train"] {
            for c in configurations {
                let runs = outcomes.filter { $0.key == rowKey(c.row) && $0.failure == nil }.compactMap { $0.curves[stage] }.filter { !$0.isEmpty }
                guard !runs.isEmpty else { continue }
                let epochs = runs.map(\.count).min()!
                data += "# block \(blocks.count): row \(c.row.rawValue) \(stage)\n"
                for e in 0..<epochs {
                    let records = runs.map { $0[e] }
                    let top1 = records.compactMap { $0.validation?.top1 }
                    data += "\(e + 1)\t\(number(mean(records.map(\.meanLoss))))\t\(number(mean(records.map(\.lr))))\t"
                        + "\(top1.count == records.count ? number(100 * mean(top1)) : "NaN")\t\(records.count)\n"
                }
                data += "\n\n"
                blocks.append((stage, blocks.count, c.row.rawValue, "row \(c.row.rawValue): \(label(c))"))
            }
        }
        // A row keeps its colour (line type = row number) in every panel, so the validation panel
        // needs no key of its own: its rising curves would run under one.
        func plot(_ stage: String, column: String) -> String {
            let parts = blocks.filter { $0.stage == stage }.map { "\"\(name).dat\" index \($0.index) using 1:\(column) with linespoints lt \($0.row) pt 7 ps 0.5 title \(Gnuplot.quoted($0.title))" }
            return parts.isEmpty ? nothing : "plot " + parts.joined(separator: ", \\\n     ")
        }
        let body = """
            set autoscale y
            unset arrow 1
            set key top right font ",9"
            set multiplot layout 1,3 title "Training curves (\(profile.rawValue) profile, mean over seeds)"
            set xlabel "epoch"
            set ylabel "TCLR loss"
            set title "TCLR pretraining"
            \(plot("pretrain", column: "2"))
            set ylabel "training loss"
            set title "training / fine-tuning"
            \(plot("train", column: "2"))
            set ylabel "validation top-1 (%)"
            set title "validation (centre crop, middle clip)\\n{/*0.8 colours as in the middle panel}"
            set yrange [0:100]
            unset key
            set arrow 1 from graph 0, first \(chance) to graph 1, first \(chance) nohead dt 2 lc rgb "#888888"
            \(plot("train", column: "4"))
            unset arrow 1
            unset multiplot
            """
        return figure(name, data: data, preamble: "set grid lc rgb \"#dddddd\"", body: body, size: (1500, 520))
    }

    /// Validation top-1 against GMACs per video (views x GMACs per view), one line per row
    /// through its view schemes: what 3x10 costs against 1x1, and what it buys.
    static func cost(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome],
                     gmacs: [Table1Row: Double], chance: Double) -> Gnuplot.Figure {
        let name = "cost-\(profile.rawValue)"
        var data = "# GMACs per video\tvalidation top-1 (% mean over seeds)\tviews\tseeds\n"
        var blocks: [(Int, String, Int)] = []
        for c in configurations {
            guard let g = gmacs[c.row], g.isFinite else { continue }
            let rows = outcomes.filter { $0.key == rowKey(c.row) && $0.failure == nil }
            let schemes = Set(rows.flatMap { $0.top1.keys }).compactMap { s -> (String, Int)? in
                let p = s.split(separator: "x").compactMap { Int($0) }
                return p.count == 2 ? (s, p[0] * p[1]) : nil
            }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            guard !schemes.isEmpty else { continue }
            data += "# block \(blocks.count): row \(c.row.rawValue)\n"
            for (s, views) in schemes {
                let v = rows.compactMap { $0.top1[s] }
                data += "\(number(g * Double(views)))\t\(number(100 * mean(v)))\t\(s)\t\(v.count)\n"
            }
            data += "\n\n"
            blocks.append((blocks.count, "row \(c.row.rawValue): \(label(c))", c.row.rawValue))
        }
        let lines = blocks.map { "\"\(name).dat\" index \($0.0) using 1:2 with linespoints lt \($0.2) pt 7 ps 0.8 title \(Gnuplot.quoted($0.1))" }
            + blocks.map { "\"\(name).dat\" index \($0.0) using 1:2:3 with labels offset 0,0.8 font \",8\" notitle" }
        let body = """
            set title "Accuracy against test cost (\(profile.rawValue) profile)\\n{/*0.8 each row's view schemes (crops x clips) from one scores file; GMACs per video = views x GMACs per view}"
            set logscale x
            set xlabel "GMACs per video (log scale)"
            set ylabel "validation top-1 (%)"
            set yrange [0:100]
            set arrow 1 from graph 0, first \(chance) to graph 1, first \(chance) nohead dt 2 lc rgb "#888888"
            set label 2 "chance" at graph 0.01, first \(chance + 2) font ",8" tc rgb "#888888"
            \(blocks.isEmpty ? nothing : "plot " + lines.joined(separator: ", \\\n     "))
            """
        return figure(name, data: data, preamble: "set key outside right font \",9\"\nset grid lc rgb \"#dddddd\"", body: body, size: (1200, 640))
    }

    /// Rows 6 (R3D-18 from scratch) and 7 (the same network TCLR-pretrained), per seed and on
    /// average, at the rows' own views.
    static func tclr(profile: Profile, outcomes: [Runner.Outcome], chance: Double) -> Gnuplot.Figure {
        let name = "tclr-\(profile.rawValue)"
        var data = "# seed\tscratch top-1 (%, row 6)\tTCLR top-1 (%, row 7)\n"
        func top1(_ o: Runner.Outcome?) -> Double? { o.flatMap { $0.top1["3x10"] } }
        let seeds = Set(outcomes.filter { $0.key == "row6" || $0.key == "row7" }.map(\.seed)).sorted()
        var pairs: [(Double, Double)] = []
        var both = (false, false)
        for s in seeds {
            let a = top1(outcomes.first { $0.key == "row6" && $0.seed == s && $0.failure == nil })
            let b = top1(outcomes.first { $0.key == "row7" && $0.seed == s && $0.failure == nil })
            data += "seed \(s)\t\(a.map { number(100 * $0) } ?? "NaN")\t\(b.map { number(100 * $0) } ?? "NaN")\n"
            if let a, let b { pairs.append((a, b)) }
            both = (both.0 || a != nil, both.1 || b != nil)
        }
        if pairs.count > 1 {
            data += "mean\t\(number(100 * mean(pairs.map(\.0))))\t\(number(100 * mean(pairs.map(\.1))))\n"
        }
        let body = """
            set title "TCLR pretraining against scratch: R3D-18, rows 6 and 7 (\(profile.rawValue) profile)\\n{/*0.8 validation top-1 at 3x10 views, per seed}"
            set ylabel "validation top-1 (%)"
            set yrange [0:100]
            set style data histograms
            set style histogram clustered gap 1
            set style fill solid 0.85 noborder
            set arrow 1 from graph 0, first \(chance) to graph 1, first \(chance) nohead dt 2 lc rgb "#888888"
            \(!(both.0 && both.1) ? nothing : "plot \"\(name).dat\" using 2:xtic(1) lc rgb \"#9a9a9a\" title \"scratch (row 6)\", \"\" using 3 lc rgb \"#3b6fb6\" title \"TCLR pretrained (row 7)\"")
            """
        return figure(name, data: data, preamble: "set key top right\nset grid ytics lc rgb \"#dddddd\"\nset datafile separator \"\\t\"", body: body, size: (900, 560))
    }

    /// Each member's validation top-1 (mean and spread over seeds) and the equal-weight ensemble's.
    static func ensemble(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome], chance: Double) -> Gnuplot.Figure {
        let name = "ensemble-\(profile.rawValue)"
        var data = "# member\tvalidation top-1 (% mean over seeds)\tstandard deviation\tensemble (1) or member (0)\n"
        var best = -Double.infinity
        for c in configurations {
            let v = outcomes.filter { $0.key == rowKey(c.row) && $0.failure == nil }.compactMap { $0.top1[c.test.views] }
            guard let m = MeanAndSpread(v) else { continue }
            best = max(best, m.mean)
            data += "row \(c.row.rawValue): \(label(c))\t\(number(100 * m.mean))\t\(number(100 * m.sd))\t0\n"
        }
        let e = outcomes.filter { $0.key == "ensemble" && $0.failure == nil }.compactMap { $0.top1["3x10"] }
        if let m = MeanAndSpread(e) { data += "ensemble (equal weights)\t\(number(100 * m.mean))\t\(number(100 * m.sd))\t1\n" }
        let bestLine = best.isFinite ? "set arrow 2 from graph 0, first \(100 * best) to graph 1, first \(100 * best) nohead dt 3 lc rgb \"#3b6fb6\"\nset label 3 \"best member\" at graph 0.01, first \(100 * best + 2) font \",8\" tc rgb \"#3b6fb6\"" : ""
        let plot = best.isFinite || !e.isEmpty
            ? "plot \"\(name).dat\" using 0:2:($4 > 0 ? 0xd9822b : 0x3b6fb6):xtic(1) with boxes lc rgb variable notitle, \\\n"
                + "     \"\" using 0:2:3 with yerrorbars lc rgb \"#333333\" pt -1 notitle"
            : nothing
        let body = """
            set title "The ensemble against its members (\(profile.rawValue) profile)\\n{/*0.8 validation top-1, mean over seeds, bars = standard deviation; the ensemble averages every member's probabilities over all its views}"
            set ylabel "validation top-1 (%)"
            set yrange [0:100]
            set boxwidth 0.7
            set style fill solid 0.85 noborder
            set xtics rotate by -25 noenhanced nomirror
            set arrow 1 from graph 0, first \(chance) to graph 1, first \(chance) nohead dt 2 lc rgb "#888888"
            \(bestLine)
            \(plot)
            """
        return figure(name, data: data, preamble: "set grid ytics lc rgb \"#dddddd\"\nset datafile separator \"\\t\"", body: body, size: (1100, 620))
    }

    /// Every seed's top-1 per row (points) and their mean (a bar), so the spread the gate's
    /// tolerance comes from is visible.
    static func seeds(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome], chance: Double) -> Gnuplot.Figure {
        let name = "seeds-\(profile.rawValue)"
        var data = "# x\tvalidation top-1 (%)\tseed\trow label\n"
        var xtics: [String] = []
        var means = "# x\tmean top-1 (%)\n"
        let keys: [(String, String, String)] = configurations.map { (rowKey($0.row), "row \($0.row.rawValue)", $0.test.views) }
            + [("ensemble", "ensemble", "3x10")]
        for (i, k) in keys.enumerated() {
            let runs = outcomes.filter { $0.key == k.0 && $0.failure == nil }.sorted { $0.seed < $1.seed }
            let values = runs.compactMap { o in o.top1[k.2].map { (o.seed, $0) } }
            guard !values.isEmpty else { continue }
            xtics.append("\"\(k.1)\" \(i + 1)")
            for (j, (seed, v)) in values.enumerated() {
                let offset = values.count > 1 ? -0.15 + 0.3 * Double(j) / Double(values.count - 1) : 0
                data += "\(number(Double(i + 1) + offset))\t\(number(100 * v))\tseed \(seed)\t\(k.1)\n"
            }
            means += "\(i + 1)\t\(number(100 * mean(values.map(\.1))))\n"
        }
        // The key goes below the plot: inside, top right, it covered the ensemble's points.
        let body = """
            set title "Seed spread (\(profile.rawValue) profile)\\n{/*0.8 validation top-1 of every seed (points) and their mean (bar), at each row's own views}"
            set ylabel "validation top-1 (%)"
            set yrange [0:100]
            set xrange [0.3:\(keys.count).7]
            set xtics (\(xtics.joined(separator: ", "))) nomirror
            set boxwidth 0.5
            set style fill solid 0.35 noborder
            set arrow 1 from graph 0, first \(chance) to graph 1, first \(chance) nohead dt 2 lc rgb "#888888"
            \(xtics.isEmpty ? nothing : "plot \"\(name)-means.dat\" using 1:2 with boxes lc rgb \"#3b6fb6\" title \"mean\", \"\(name).dat\" using 1:2 with points pt 7 ps 1.2 lc rgb \"#1d3f73\" title \"one seed\"")
            """
        return figure(name, data: data, extra: ["\(name)-means.dat": means],
                      preamble: "set key outside bottom center horizontal\nset grid ytics lc rgb \"#dddddd\"\nset datafile separator \"\\t\"", body: body, size: (1000, 560))
    }

    /// The crop and sampling sweep (`reproduce --sweep`): one panel per row, validation top-1
    /// against clips per video (3 crops), one line per temporal rule and crop rule, mean over seeds.
    /// Nil when no outcome carries a sweep.
    static func sweep(profile: Profile, configurations: [RowConfiguration], outcomes: [Runner.Outcome], chance: Double) -> Gnuplot.Figure? {
        let name = "sweep-\(profile.rawValue)"
        var data = "# clips per video\tvalidation top-1 (% mean over seeds, 3 crops)\tGMACs per video\tseeds\n"
        var panels: [(title: String, blocks: [(Int, String)])] = []
        var index = 0
        for c in configurations {
            let runs = outcomes.filter { $0.key == rowKey(c.row) && $0.failure == nil && !$0.sweep.isEmpty }
            guard !runs.isEmpty else { continue }
            var blocks: [(Int, String)] = []
            for cropRule in CropRule.allCases {
                for rule in TestSamplingRule.allCases {
                    let points = runs.flatMap(\.sweep).filter { $0.rule == rule && $0.cropRule == cropRule && $0.crops == 3 }
                    let clips = Set(points.map(\.clips)).sorted()
                    guard !clips.isEmpty else { continue }
                    data += "# block \(index): row \(c.row.rawValue) \(rule.rawValue) / \(cropRule.rawValue)\n"
                    for k in clips {
                        let at = points.filter { $0.clips == k }
                        data += "\(k)\t\(number(100 * mean(at.map(\.top1))))\t\(number(at[0].gmacsPerVideo))\t\(at.count)\n"
                    }
                    data += "\n\n"
                    blocks.append((index, "\(rule.rawValue) / \(cropRule.rawValue) crops"))
                    index += 1
                }
            }
            panels.append(("row \(c.row.rawValue): \(label(c))", blocks))
        }
        guard !panels.isEmpty else { return nil }
        let columns = min(4, panels.count), rows = (panels.count + columns - 1) / columns
        var body = "set multiplot layout \(rows),\(columns) title \"Crop and sampling sweep (\(profile.rawValue) profile): validation top-1 at 3 crops x 1, 5, 10 clips\"\n"
        body += "set xlabel \"clips per video\"\nset ylabel \"validation top-1 (%)\"\nset yrange [0:100]\nset xrange [0:11]\nset xtics (1, 5, 10)\n"
        body += "set arrow 1 from graph 0, first \(chance) to graph 1, first \(chance) nohead dt 2 lc rgb \"#888888\"\n"
        for (i, p) in panels.enumerated() {
            body += "set title \(Gnuplot.quoted(p.title))\n"
            body += i == 0 ? "set key bottom right font \",8\"\n" : "unset key\n"
            body += "plot " + p.blocks.map { b in
                "\"\(name).dat\" index \(b.0) using 1:2 with linespoints pt \(b.1.hasSuffix("slowfast crops") ? 7 : 6) ps 0.7 dt \(b.1.hasSuffix("slowfast crops") ? 1 : 2) title \(Gnuplot.quoted(b.1))"
            }.joined(separator: ", \\\n     ") + "\n"
        }
        body += "unset multiplot"
        return figure(name, data: data, preamble: "set grid lc rgb \"#dddddd\"", body: body, size: (max(900, 420 * columns + 80), max(520, 380 * rows + 60)))
    }

    // MARK: Helpers

    /// An empty panel: gnuplot refuses to autoscale a plot without points, so the ranges are fixed.
    static let nothing = """
        set label 9 "nothing recorded yet" at graph 0.5, graph 0.5 center
        set xrange [0:1]
        set yrange [0:1]
        unset logscale x
        plot NaN notitle
        unset label 9
        set autoscale
        """

    static func rowKey(_ r: Table1Row) -> String { "row\(r.rawValue)" }

    static func label(_ c: RowConfiguration) -> String {
        "\(c.training.model.rawValue) \(c.training.modality.rawValue)\(c.pretraining == nil ? "" : " TCLR")"
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    static func sd(_ v: [Double]) -> Double { MeanAndSpread(v)?.sd ?? 0 }

    static func number(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "NaN" }

    /// The same body drawn to PNG and SVG (a multiplot cannot be `replot`ted).
    static func figure(_ name: String, data: String, extra: [String: String] = [:], preamble: String, body: String,
                       size: (Int, Int)) -> Gnuplot.Figure {
        var script = "# Re-render from this folder with: gnuplot \(name).gp\nset encoding utf8\n\(preamble)\n"
        for (terminal, ext) in [("pngcairo", "png"), ("svg", "svg")] {
            script += "set terminal \(terminal) size \(size.0),\(size.1) enhanced font \"DejaVu Sans,11\" background \"white\"\n"
            script += "set output \"\(name).\(ext)\"\n\(body)\nunset output\n"
        }
        var files = extra
        files["\(name).dat"] = data
        return Gnuplot.Figure(name: name, dataFiles: files, script: script, outputs: ["\(name).png", "\(name).svg"])
    }
}
