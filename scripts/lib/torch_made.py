"""The PyTorch peer MADE shared by scripts/bench-torch.py and scripts/peer-made.py: one hidden layer of ReLU units,
one mask set (Germain et al. 2015), Glorot-normal weights, zero biases."""
import torch


def made(d, h, order):
    """The parameters and the logits function of a MADE d-h-d generating the dimensions in `order` (a permutation
    of range(d): order[0] first). Hidden degrees are drawn from torch's global generator."""
    deg_in = torch.empty(d, dtype=torch.long)
    deg_in[order] = torch.arange(1, d + 1)  # the i-th generated dimension has degree i
    deg_h = torch.randint(1, d, (h,))
    m1 = (deg_h[None, :] >= deg_in[:, None]).float()  # [d, h]
    m2 = (deg_in[None, :] > deg_h[:, None]).float()   # [h, d]
    w1 = torch.nn.Parameter(torch.randn(d, h) * (2.0 / (d + h)) ** 0.5)
    b1 = torch.nn.Parameter(torch.zeros(h))
    w2 = torch.nn.Parameter(torch.randn(h, d) * (2.0 / (d + h)) ** 0.5)
    b2 = torch.nn.Parameter(torch.zeros(d))

    def logits(x):
        return torch.relu(x @ (w1 * m1) + b1) @ (w2 * m2) + b2

    return [w1, b1, w2, b2], logits
