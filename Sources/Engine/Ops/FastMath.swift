// exp and erf as plain arithmetic (no libm calls), so loops over them vectorise. Softmax and
// GELU now run the same arithmetic in C (Sources/CVectorMath, at the CPU's vector width); these
// Swift forms define it: GELUFunction's scalar value and gradient use them, and VectorMathTests
// holds the C kernels to them bit for bit.

/// e^x for Float: Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial, the
/// exponent set by bits). Relative error under 2e-7 against expf; inputs below -87.3 give
/// ~1e-38 instead of 0, above 88.7 the largest finite value's neighbourhood.
@inline(__always)
func fastExp(_ v: Float) -> Float {
    let x0 = min(max(v, -87.33654), 88.72283)
    // n = x0 / ln 2 rounded to nearest by the 1.5 x 2^23 trick: `rounded()` is a libm call on
    // baseline x86-64 (no SSE4.1), which keeps the loops around it scalar.
    let n = (x0 * 1.44269504088896341 + 12_582_912) - 12_582_912
    let x = x0 - n * 0.693359375 + n * 2.12194440e-4
    let z = x * x
    var y: Float = 1.9875691500e-4
    y = y * x + 1.3981999507e-3
    y = y * x + 8.3334519073e-3
    y = y * x + 4.1665795894e-2
    y = y * x + 1.6666665459e-1
    y = y * x + 5.0000001201e-1
    y = y * z + x + 1
    // 2^n without a checked Float-to-Int conversion (which would keep the loop scalar): adding
    // 1.5 x 2^23 puts n + 127 (0...254 here) in the low mantissa bits; shift them into the exponent.
    let biased = (n + 127 + 12_582_912).bitPattern
    return y * Float(bitPattern: biased << 23)
}

/// erf(x): Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7 in exact arithmetic, about
/// 3e-7 in Float), odd-symmetric.
@inline(__always)
func fastErf(_ x: Float) -> Float {
    let a = abs(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p: Float = 1.061405429
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let e = 1 - p * t * fastExp(-a * a)
    return x < 0 ? -e : e
}
