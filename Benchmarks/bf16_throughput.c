// Peak multiply-add rate of one core: AVX-512 FP32 FMAs (vfmadd231ps, 16 multiply-adds each) against
// AVX-512 BF16 dot products (vdpbf16ps, 32 each), ten independent accumulators so that latency does
// not limit either. Why the fast mode (BF16 convolutions) can or cannot win on a CPU: oneDNN's BF16
// kernels run on vdpbf16ps.
//   clang -O2 Benchmarks/bf16_throughput.c -o /tmp/bf16_throughput && /tmp/bf16_throughput
// (needs a CPU with AVX-512 BF16; GFLOP/s count 2 per multiply-add.)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define N 200000000L
__attribute__((target("avx512f,avx512bf16"))) double bf16(void){
  __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0,a8=a0,a9=a0;
  __m512bh x=(__m512bh)_mm512_set1_epi16(0x3f80), y=x;
  double t=now();
  for(long i=0;i<N/10;i++){a0=_mm512_dpbf16_ps(a0,x,y);a1=_mm512_dpbf16_ps(a1,x,y);a2=_mm512_dpbf16_ps(a2,x,y);a3=_mm512_dpbf16_ps(a3,x,y);a4=_mm512_dpbf16_ps(a4,x,y);
    a5=_mm512_dpbf16_ps(a5,x,y);a6=_mm512_dpbf16_ps(a6,x,y);a7=_mm512_dpbf16_ps(a7,x,y);a8=_mm512_dpbf16_ps(a8,x,y);a9=_mm512_dpbf16_ps(a9,x,y);}
  t=now()-t; volatile float s=_mm512_reduce_add_ps(a0+a1+a2+a3+a4+a5+a6+a7+a8+a9); (void)s;
  return (double)N*32*2/t/1e9; }
__attribute__((target("avx512f,fma"))) double fp32(void){
  __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0,a8=a0,a9=a0;
  __m512 x=_mm512_set1_ps(1.0f), y=x;
  double t=now();
  for(long i=0;i<N/10;i++){a0=_mm512_fmadd_ps(x,y,a0);a1=_mm512_fmadd_ps(x,y,a1);a2=_mm512_fmadd_ps(x,y,a2);a3=_mm512_fmadd_ps(x,y,a3);a4=_mm512_fmadd_ps(x,y,a4);
    a5=_mm512_fmadd_ps(x,y,a5);a6=_mm512_fmadd_ps(x,y,a6);a7=_mm512_fmadd_ps(x,y,a7);a8=_mm512_fmadd_ps(x,y,a8);a9=_mm512_fmadd_ps(x,y,a9);}
  t=now()-t; volatile float s=_mm512_reduce_add_ps(a0+a1+a2+a3+a4+a5+a6+a7+a8+a9); (void)s;
  return (double)N*16*2/t/1e9; }
int main(){ for(int r=0;r<3;r++) printf("one core: FP32 FMA %.1f GFLOP/s, BF16 dot %.1f GFLOP/s\n", fp32(), bf16()); }
