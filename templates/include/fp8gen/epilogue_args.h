/* Run-time arguments of a kernel's epilogue chain, passed by value as the
 * kernel's last parameter. Plain C: the kernels, the exported C launchers and
 * fp8gen's Python launcher (a ctypes mirror, checked against this layout by
 * static_asserts in every generated kernel) share it. Fields an op does not
 * use are ignored; pointers may then be NULL.
 */
#ifndef FP8GEN_EPILOGUE_ARGS_H
#define FP8GEN_EPILOGUE_ARGS_H

typedef struct fp8gen_epilogue_args {
  float alpha;                   /* alpha op: x *= (alpha_ptr ? *alpha_ptr : alpha) */
  float beta;                    /* residual op: x += beta * C[m, n] */
  float out_scale;               /* FP8 output: D = saturate(x / (out_scale_ptr ? *out_scale_ptr : out_scale)) */
  int reserved;
  const float* alpha_ptr;
  const float* out_scale_ptr;
  const void* bias;              /* bias op: element i at bias[i * bias_stride] */
  long long bias_stride;
  const void* residual;          /* residual op: C[m, n] at residual[m * stride_row + n * stride_col] */
  long long residual_stride_row;
  long long residual_stride_col;
  float* amax;                   /* amax op: max |x| is atomically max-ed into *amax (float bits) */
  void* group_scales;            /* group_quantize op: scale of (m, g) at [m * stride_row + g * stride_group] */
  long long group_scales_stride_row;
  long long group_scales_stride_group;
  long long bias_stride_group;   /* grouped kernels: expert g's column bias starts at bias + g * bias_stride_group */
} fp8gen_epilogue_args;

#endif /* FP8GEN_EPILOGUE_ARGS_H */
