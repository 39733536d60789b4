"""Every code snippet of the user's five autograd tutorials (``shared/seeds/*.txt``).

Each tutorial is a list of cells, run in order in one namespace (like the notebook or the
interactive session the tutorial was written in).  The code is verbatim from the tutorial except:

* ``torch.manual_seed(SEED)`` is prepended to cells that draw random numbers, so jitgrad and
  PyTorch see the same values (jitgrad's generator is bit-compatible with torch's CPU one);
* bare ``dir(...)`` displays are left out (the attribute lists of C++ classes cannot be
  compared); ``test_seeds.py`` checks those objects' attribute names another way;
* text that is not Python (the math in seed 000 and seed 003's ``3x^2+18x+27;``) is skipped.

A cell whose last statement is a bare expression shows its ``repr`` like the REPL does
(``sys.displayhook``), so notebook displays such as ``y.grad_fn`` or ``x_leaf.variable`` are
compared too.  ``compare=False`` marks cells whose output legitimately differs from torch
(``torch.__version__``).
"""

SEED = 0


def cell(code, *, random=False, compare=True):
    code = code.strip("\n")
    if random:
        code = f"torch.manual_seed({SEED})\n" + code
    return {"code": code + "\n", "compare": compare}


TUTORIALS = {}

# ---------------------------------------------------------------------------------------------
# 000_c6abf16e2f5b97e7.txt -- "autograd-自动梯度" (reStructuredText, ``::`` blocks)
# ---------------------------------------------------------------------------------------------
TUTORIALS["000"] = [
    cell('''
import torch

# 开始创建一个 tensor， 并让 requires_grad=True 来追踪该变量相关的计算操作：

x = torch.ones(2, 2, requires_grad=True)
print(x)
# tensor([[1., 1.],
#         [1., 1.]], requires_grad=True)


# 执行任意计算操作，这里进行简单的加法运算：
y = x + 2
print(y)
# tensor([[3., 3.],
#         [3., 3.]], grad_fn=<AddBackward>)

# y 是一个操作的结果，所以它带有属性 grad_fn：
print(y.grad_fn)
# <AddBackward object at 0x00000216D25DCC88>


# 继续对变量 y 进行操作：
z = y * y * 3
out = z.mean()

print('z=', z)

# z= tensor([[27., 27.],
#         [27., 27.]], grad_fn=<MulBackward>)

print('out=', out)
# out= tensor(27., grad_fn=<MeanBackward1>)
'''),
    cell('''
a = torch.randn(2, 2)
a = ((a * 3) / (a - 1))
print(a.requires_grad)      # False
a.requires_grad_(True)
print(a.requires_grad)      # True
b = (a * a).sum()
print(b.grad_fn)            # <SumBackward0 object at 0x00000216D25ED710>
''', random=True),
    cell('''
out.backward()
# 输出梯度 d(out)/dx
print(x.grad)
'''),
    cell('''
x = torch.randn(3, requires_grad=True)

y = x * 2
while y.data.norm() < 1000:
    y = y * 2

print(y)
''', random=True),
    cell('''
v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
y.backward(v)

print(x.grad)
'''),
    cell('''
print(x.requires_grad)
print((x ** 2).requires_grad)

with torch.no_grad():
    print((x ** 2).requires_grad)
'''),
]

# ---------------------------------------------------------------------------------------------
# 001_3b17eaa2202f7700.txt -- "Pytorch Basic 2：自动求梯度（Autograd）" (Jupyter cells)
# ---------------------------------------------------------------------------------------------
TUTORIALS["001"] = [
    # In [1] -- the version string differs by design
    cell('''
import torch
print(torch.__version__)
''', compare=False),
    # In [2]
    cell('''
x=torch.rand(5,5,requires_grad=True)
print(x)

y=torch.rand(5,5,requires_grad=True)
print(y)
''', random=True),
    # In [3]
    cell('''
z=torch.sum(x+y) ## torch.sum() 对一个tensor中所有元素求和
print(z) ## 注意此时的z是一个标量
'''),
    # In [4]
    cell('''
z.backward()
print(x.grad,'\\t',y.grad) ## 由于z是一个标量，且x,y是叶子节点，所以可以完成自动求导
'''),
    # In [5]
    cell('''
x = torch.rand(5, 5, requires_grad=True)
y = torch.rand(5, 5, requires_grad=True)
z= x**2+y**3
print(z.size())
''', random=True),
    # In [6]
    cell('''
z.backward(torch.ones_like(x)) ## 和x同型的全为1的tensor
print(x.grad) ## 求Jacobian矩阵
#print(y.grad) ## 会报错
'''),
    # In [7]
    cell('''
with torch.no_grad():
    print((x+y*2).requires_grad)

## 在测试集计算准确率的时候，一样进行正向传播，如果没有with torch.no_grad()，pytorch还是会去计算那些被设置为需要计算梯度的tensor
'''),
    # In [None]: dir(z) -- skipped (see module docstring)
    # In [None]
    cell('''
print("x.is_leaf="+str(x.is_leaf))
print("z.is_leaf="+str(z.is_leaf))
'''),
    # In [None]
    cell('''
z.grad_fn
'''),
    # In [None]: dir(z.grad_fn) -- skipped
    # In [8]
    cell('''
print(z.grad_fn)
print(z.grad_fn.next_functions)
'''),
    # In [11]
    cell('''
x1=torch.ones_like(x)
z=x**2+y**3+x1
z.backward(torch.ones_like(x))
print(z.grad_fn)
print(x1.grad_fn)
print(z.grad_fn.next_functions)
'''),
    # In [13] -- the trailing bare ``dir(xg)`` display is skipped
    cell('''
xg = z.grad_fn.next_functions[0][0] ## z.grad_fn.next_functions[0][0]（z.grad_fn.next_functions的第1个元组的第一个元素，那就是x.grad_fn属性）
'''),
    # In [21]
    cell('''
x_leaf=xg.next_functions[0][0]
x_leaf=x_leaf.next_functions[0][0] ## 这里由于我中间加了一个实验，所以多了一层，所以要对z找两个 .next_function[0][0]才回到x.grad_fn
print(type(x_leaf))
print(x.is_leaf)
'''),
    # In [22]
    cell('''
x_leaf.variable 
'''),
    # In [23]
    cell('''
print("x_leaf.variable的id:"+str(id(x_leaf.variable)))
print("x的id:"+str(id(x)))
'''),
    cell('''
assert(id(x_leaf.variable)==id(x))
'''),
    # In [25]
    cell('''
# 引入Function便于扩展
from torch.autograd.function import Function
'''),
    # In [27]
    cell('''
# 定义一个乘以常数的操作(输入参数是张量)
# 方法必须是静态方法，所以要加上@staticmethod 
class MulConstant(Function):
    @staticmethod ## 声明是静态方法
    def forward(ctx, tensor, constant):
        # ctx 用来保存信息这里类似self，并且ctx的属性可以在backward中调用
        ctx.constant=constant
        return tensor *constant
    @staticmethod 
    def backward(ctx, grad_output):
        # 返回的参数要与输入的参数一样.
        # 第一个输入为3x3的张量，第二个为一个常数
        # 常数的梯度必须是 None.
        return grad_output, None 
'''),
    # In [28]
    cell('''
a=torch.rand(3,3,requires_grad=True)
b=MulConstant.apply(a,5)
print("a:"+str(a))
print("b:"+str(b)) # b为a的元素乘以5
''', random=True),
    # In [29]
    cell('''
b.backward(torch.ones_like(a))
'''),
    # In [30]
    cell('''
a.grad
'''),
]

# ---------------------------------------------------------------------------------------------
# 002_1484c99a42cb25bd.txt -- "自动微分" (markdown ```python blocks; no ``import torch`` shown)
# ---------------------------------------------------------------------------------------------
TUTORIALS["002"] = [
    # the tutorial's blocks assume torch is imported (not shown in the text)
    cell('''
import torch
'''),
    cell('''
x = torch.arange(4.0)
print('x =', x) # x = tensor([0., 1., 2., 3.])

x.requires_grad_(True) # 等价于x=torch.arange(4.0, requires_grad=True)
print('x.grad =', x.grad) # x.grad = None
  
y = 2 * torch.dot(x, x)
print('y =', y) # y = tensor(28., grad_fn=<MulBackward0>)
  
y.backward()
print('x.grad =', x.grad) # x.grad = tensor([ 0.,  4.,  8., 12.])
  
print(x.grad == 4 * x) # tensor([True, True, True, True])
'''),
    cell('''
y = x.sum()
y.backward()
print(x.grad) # tensor([1., 1., 1., 1.])
'''),
    # raises in PyTorch: this fresh x does not require grad
    cell('''
x = torch.arange(4.0)
y = x * x

y.backward(torch.ones(len(x)))
print(x.grad) # tensor([0., 2., 4., 6.])
'''),
    # raises in PyTorch: x.grad is None
    cell('''
x.grad.zero_()
y = x * x
y.sum().backward()
print(x.grad) # tensor([0., 2., 4., 6.])
'''),
    # raises in PyTorch: nothing requires grad
    cell('''
x = torch.arange(4.0)
y = x * x
u = y.detach()
z = u * x
z.sum().backward()

print(x.grad == u) # tensor([True, True, True, True])
'''),
    cell('''
def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = 2 * b
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c

a = torch.randn(size=(), requires_grad=True)
d = f(a)
d.backward()

# 这里d的值取决于a的输入，是分段函数，所以用 d/a 判断 
print(a.grad == d / a) # tensor(True)
''', random=True),
]

# ---------------------------------------------------------------------------------------------
# 003_f30008a3d7dbdb0d.txt -- "自动求梯度" (Jupyter cells)
# ---------------------------------------------------------------------------------------------
TUTORIALS["003"] = [
    cell('''
import torch
'''),
    cell('''
# 创建一个Tensor，并设置requires_grad=True
x = torch.ones(2,3, requires_grad=True)
x
'''),
    cell('''
print(x.grad_fn)
'''),
    cell('''
y = x+3
y
'''),
    cell('''
y.grad_fn
'''),
    cell('''
print(x.is_leaf, y.is_leaf)
'''),
    cell('''
z = y * y *3
out = z.mean()
print(z)
print(out)
'''),
    cell('''
a = torch.randn(2, 2)  # 默认情况下requires_grad=False
a
''', random=True),
    cell('''
a = ((a*2)/(a-1))
print(a.requires_grad)
'''),
    cell('''
a.requires_grad_(True)
print(a.requires_grad)
'''),
    cell('''
b = (a**2).sum()
b.grad_fn
'''),
    cell('''
out.backward()  #等价于out.backward(torch.tensor(1.))
'''),
    cell('''
x.grad
'''),
    # "3x^2+18x+27;\n6x+18" -- math, not Python: skipped
]

# ---------------------------------------------------------------------------------------------
# 004_9cfbe101e6e74920.txt -- Jupyter cells
# ---------------------------------------------------------------------------------------------
TUTORIALS["004"] = [
    cell('''
import torch
import numpy as np
'''),
    cell('''
torch.__version__
''', compare=False),
    cell('''
# 标量求梯度
w = torch.tensor([1.], requires_grad=True)
x = torch.tensor([2.], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)

 # x是直接创建的，所以它没有grad_fn
print(x.grad_fn)
print(a.grad_fn)

y.backward()
print(w.grad)
'''),
    cell('''
# 注意grad是累加的
y2 = w.sum()
y2.backward()      # 梯度未清零，累加梯度
print(w.grad)

y3 = w.sum()
w.grad.data.zero_()
y3.backward()      # 梯度清零后，x的梯度为1
print(w.grad)
'''),
    cell('''
from torch.autograd import Function

class Exp(Function):                    # 此层计算e^x
    @staticmethod
    def forward(ctx, i):                # 模型前向
        result = i.exp()
        ctx.save_for_backward(result)   # 保存所需内容，以备backward时使用，所需的结果会被保存在saved_tensors元组中；
                                        # 此处仅能保存tensor类型变量，若其余类型变量（Int等），可直接赋予ctx作为成员变量，也可以达到保存效果
        return result
    @staticmethod
    def backward(ctx, grad_output):     # 模型梯度反传
        result, = ctx.saved_tensors     # 取出forward中保存的result
        return grad_output * result     # 计算梯度并返回


# 尝试使用
x = torch.tensor([1.], requires_grad=True)  # 需要设置tensor的requires_grad属性为True，才会进行梯度反传
ret = Exp.apply(x)                          # 使用apply方法调用自定义autograd function
print(ret)                                  # tensor([2.7183], grad_fn=<ExpBackward>)
ret.backward()                              # 反传梯度
print(x.grad)                               # tensor([2.7183])
'''),
]
