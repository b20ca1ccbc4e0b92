"""Train steps of one variant on random MNIST-shaped data, one thread: a fixed amount of work to
time as a whole process under each CPU-kernel setting (run from a checkout).
usage: python steps.py VARIANT STEPS"""
import sys
import torch
from ffmodels.config import load_config, variant_hparams
from ffmodels.jobs.model import new_model

torch.set_num_threads(1)
variant, steps = sys.argv[1], int(sys.argv[2])
hp = dict(variant_hparams(load_config(), variant))
torch.manual_seed(0)
b = hp["batch_size"]
x = torch.rand(b, 784)
y = torch.randint(0, 10, (b,))
model = new_model(hp, 0, 784, torch.device("cpu"))
gen = torch.Generator().manual_seed(0)
model.train(); model.on_epoch_start(1)
for _ in range(steps):
    model.train_step(x, y, gen)
print(torch.backends.cpu.get_cpu_capability())
