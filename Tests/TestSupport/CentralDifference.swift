import Engine

/// The central difference (loss(x + eps) - loss(x - eps)) / 2 eps with respect to value `index` of
/// `tensor`, which is put back afterwards: the obviously right reference that every analytic
/// gradient (one op's, or a whole network's) is checked against.
public func centralDifference(of tensor: Tensor, at index: Int, eps: Float, _ loss: () -> Double) -> Double {
    let original = tensor.data[index]
    tensor.data[index] = original + eps
    let plus = loss()
    tensor.data[index] = original - eps
    let minus = loss()
    tensor.data[index] = original
    return (plus - minus) / (2 * Double(eps))
}
