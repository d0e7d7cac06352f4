/// Median filtering of a flow component (3x3 or 5x5, borders replicated, as OpenCV's
/// `medianBlur` on float images), with a selection network run on eight pixels at a time.
enum Median {
    /// Compare-exchange pairs that leave the median of n values at index n / 2: Batcher's
    /// odd-even merge sort for the next power of two, pruned of the pairs that touch padding
    /// (+infinity stays last) and of those the median does not depend on.
    static func network(_ n: Int) -> [(Int, Int)] {
        var size = 1
        while size < n { size *= 2 }
        var pairs: [(Int, Int)] = []
        var p = 1
        while p < size {
            var k = p
            while k >= 1 {
                var j = k % p
                while j <= size - 1 - k {
                    for i in 0..<min(k, size - j - k) where (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        pairs.append((i + j, i + j + k))
                    }
                    j += 2 * k
                }
                k /= 2
            }
            p *= 2
        }
        pairs = pairs.filter { $0.1 < n }
        // Walk backwards from the median's wire, keeping the pairs that can reach it.
        var needed: Set<Int> = [n / 2]
        var kept: [(Int, Int)] = []
        for pair in pairs.reversed() where needed.contains(pair.0) || needed.contains(pair.1) {
            kept.append(pair)
            needed.insert(pair.0); needed.insert(pair.1)
        }
        return kept.reversed()
    }

    static let network9 = network(9)
    static let network25 = network(25)

    /// The plane median-filtered with a k x k window (k = 3 or 5), borders replicated. Works a
    /// row at a time: the k x k taps of every pixel of the row sit in k^2 row buffers, and each
    /// compare-exchange is a min/max over whole rows (which the compiler vectorises).
    static func filter(_ plane: Plane, size k: Int) -> Plane {
        precondition(k == 3 || k == 5)
        let (w, h, r) = (plane.width, plane.height, k / 2)
        let net = k == 3 ? network9 : network25
        let count = k * k
        var out = [Float](repeating: 0, count: w * h)
        let taps = UnsafeMutablePointer<Float>.allocate(capacity: count * w)
        defer { taps.deallocate() }
        // Column index of each tap, clamped (replicated border).
        let columns = (0..<k).map { dx in (0..<w).map { min(max($0 + dx - r, 0), w - 1) } }
        plane.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    for dy in 0..<k {
                        let row = src.baseAddress! + min(max(y + dy - r, 0), h - 1) * w
                        for dx in 0..<k {
                            let t = taps + (dy * k + dx) * w
                            columns[dx].withUnsafeBufferPointer { c in for x in 0..<w { t[x] = row[c[x]] } }
                        }
                    }
                    for (a, b) in net {
                        let (pa, pb) = (taps + a * w, taps + b * w)
                        for x in 0..<w {
                            let (va, vb) = (pa[x], pb[x])
                            pa[x] = min(va, vb); pb[x] = max(va, vb)
                        }
                    }
                    (dst.baseAddress! + y * w).update(from: taps + (count / 2) * w, count: w)
                }
            }
        }
        return Plane(width: w, height: h, data: out)
    }
}
