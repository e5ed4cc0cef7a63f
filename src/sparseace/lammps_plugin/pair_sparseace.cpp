/* LAMMPS pair style "sparseace" (see pair_sparseace.h).  Written for the sparseace project; the
   algorithm is a port of sparseace.basis.kernels.site_energies, radial.py and harmonics.py. */

#include "pair_sparseace.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"

#include <cmath>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

using namespace LAMMPS_NS;

static const char *const FILE_MAGIC = "sparseace-lammps-model";
static const int FILE_VERSION = 2;

/* ---------------------------------------------------------------- Agnesi transform */

static inline double power(double s, double e, bool integral)
{
  if (!integral) return std::pow(s, e);
  int n = static_cast<int>(e);
  double r = 1.0;
  for (int k = 0; k < n; k++) r *= s;
  return r;
}

void SparseACETransform::setup(double rin_, double rcut_, double r0, double p_, double q_,
                               double a_)
{
  rin = rin_;
  rcut = rcut_;
  p = p_;
  q = q_;
  a = a_;
  scale = 1.0 / (r0 - rin);
  int_exponents = (p == std::floor(p) && q == std::floor(q) && p >= 0 && q >= 1 && q >= p);
  double dy;
  y_and_dy(0.0, y_in, dy);
  double y_cut;
  y_and_dy((rcut - rin) * scale, y_cut, dy);
  c = 2.0 / (y_cut - y_in);
}

void SparseACETransform::y_and_dy(double s, double &y, double &dy) const
{
  const double sqp = power(s, q - p, int_exponents);
  const double f = a * power(s, q, int_exponents) / (1.0 + sqp);
  const double df = a * power(s, q - 1, int_exponents) * (q + p * sqp) / ((1.0 + sqp) * (1.0 + sqp));
  y = 1.0 / (1.0 + f);
  dy = -df * y * y;
}

void SparseACETransform::eval(double r, double &x, double &dxdr) const
{
  double y, dy;
  y_and_dy((r - rin) * scale, y, dy);
  x = -1.0 + c * (y - y_in);
  dxdr = c * dy * scale;
}

/* ---------------------------------------------------------------- model file */

namespace {

struct Tokens {
  std::string path;
  std::vector<std::pair<std::string, int>> tok;    // token, line number
  size_t pos = 0;

  [[noreturn]] void fail(const std::string &what) const
  {
    int line = pos < tok.size() ? tok[pos].second : (tok.empty() ? 0 : tok.back().second);
    std::string got = pos < tok.size() ? "'" + tok[pos].first + "'" : "end of file";
    throw std::runtime_error(path + ": line " + std::to_string(line) + ": expected " + what +
                             ", got " + got);
  }
  const std::string &next(const std::string &what)
  {
    if (pos >= tok.size()) fail(what);
    return tok[pos++].first;
  }
  void keyword(const std::string &kw)
  {
    if (pos >= tok.size() || tok[pos].first != kw) fail("keyword '" + kw + "'");
    pos++;
  }
  double real(const std::string &what)
  {
    if (pos >= tok.size()) fail(what);
    const std::string &s = tok[pos].first;
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !std::isfinite(v)) fail("a finite number (" + what + ")");
    pos++;
    return v;
  }
  int integer(const std::string &what, long lo, long hi)
  {
    if (pos >= tok.size()) fail(what);
    const std::string &s = tok[pos].first;
    char *end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0' || v < lo || v > hi)
      fail("an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (" + what + ")");
    pos++;
    return static_cast<int>(v);
  }
};

const long BIG = 100000000L;

}    // namespace

void SparseACELeafGroups::add_species(const std::vector<int> &keys, const std::vector<int> &others,
                                      const std::vector<double> &coefs)
{
  // leaves by key, then the groups by their size (loops of equal trip counts in a row: the
  // branch predictor follows them)
  std::vector<int> idx(keys.size()), size(keys.size() + 1, 0);
  for (size_t t = 0; t < idx.size(); t++) idx[t] = static_cast<int>(t);
  std::stable_sort(idx.begin(), idx.end(), [&keys](int a, int b) { return keys[a] < keys[b]; });
  std::vector<std::pair<int, int>> groups;    // (first position in idx, size)
  for (size_t t = 0; t < idx.size(); t++) {
    if (t == 0 || keys[idx[t]] != keys[idx[t - 1]]) groups.emplace_back(static_cast<int>(t), 0);
    groups.back().second++;
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const std::pair<int, int> &a, const std::pair<int, int> &b) {
                     return a.second < b.second;
                   });
  for (const auto &grp : groups) {
    key.push_back(keys[idx[grp.first]]);
    for (int t = grp.first; t < grp.first + grp.second; t++) {
      other.push_back(others[idx[t]]);
      coef.push_back(coefs[idx[t]]);
    }
    start.push_back(static_cast<int>(other.size()));
  }
  species_ptr.push_back(static_cast<int>(key.size()));
}

void SparseACEModel::read(const std::string &path)
{
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the model file");
  Tokens t;
  t.path = path;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream ls(line);
    std::string w;
    while (ls >> w) t.tok.emplace_back(w, lineno);
  }
  t.keyword(FILE_MAGIC);
  int version = t.integer("format version", 0, BIG);
  if (version != FILE_VERSION)
    throw std::runtime_error(path + ": format version " + std::to_string(version) +
                             " is not supported (this plugin reads version " +
                             std::to_string(FILE_VERSION) + "); re-export the model");
  t.keyword("elements");
  nz = t.integer("number of elements", 1, 118);
  elements.resize(nz);
  for (auto &e : elements) e = t.next("element name");
  t.keyword("eref");
  eref.resize(nz);
  for (auto &e : eref) e = t.real("Eref");
  t.keyword("transform");
  rin = t.real("rin");
  rcut = t.real("rcut");
  mb_p = t.real("p");
  mb_q = t.real("q");
  mb_a = t.real("a");
  if (!(rcut > rin && rin >= 0.0)) throw std::runtime_error(path + ": need 0 <= rin < rcut");
  t.keyword("pair_transform");
  pair_p = t.real("p");
  pair_q = t.real("q");
  pair_a = t.real("a");
  t.keyword("r0");
  r0.resize(nz * nz);
  for (auto &v : r0) {
    v = t.real("r0");
    if (!(v > rin)) t.fail("r0 > rin");
  }
  t.keyword("radial");
  n_radial = t.integer("number of radial functions", 1, BIG);
  rec_mb.resize(3 * n_radial);
  for (auto &v : rec_mb) v = t.real("recurrence coefficient");
  t.keyword("pair_radial");
  pair_degree = t.integer("pair degree", 0, BIG);
  rec_pair.resize(3 * pair_degree);
  for (auto &v : rec_pair) v = t.real("recurrence coefficient");
  t.keyword("lmax");
  lmax = t.integer("lmax", 0, 100);
  t.keyword("degree_lmax");
  degree_lmax.resize(nz * n_radial);
  for (auto &v : degree_lmax) v = t.integer("largest l of a radial degree", -1, lmax);
  run_start.assign(nz * n_radial + 1, 0);
  for (int k = 0; k < nz * n_radial; k++)
    run_start[k + 1] = run_start[k] + (degree_lmax[k] + 1) * (degree_lmax[k] + 1);
  num_a = run_start[nz * n_radial];
  t.keyword("pair_weights");
  pair_weights.resize(nz * nz * pair_degree);
  for (auto &v : pair_weights) v = t.real("pair weight");
  order_ptr.assign(5 * nz, 0);
  parent.clear();
  factor.clear();
  coef.clear();
  for (int z = 0; z < nz; z++) {
    t.keyword("dag");
    t.integer("centre species " + std::to_string(z), z, z);
    const int start = static_cast<int>(factor.size());
    order_ptr[5 * z] = start;
    for (int k = 1; k <= 4; k++)
      order_ptr[5 * z + k] = order_ptr[5 * z + k - 1] + t.integer("number of nodes", 0, BIG);
    for (int k = 1; k <= 4; k++)
      for (int n = order_ptr[5 * z + k - 1]; n < order_ptr[5 * z + k]; n++) {
        // the parent of an order-k node is a node of order k-1 of the same species (-1: order 1)
        const int lo = k == 1 ? -1 : order_ptr[5 * z + k - 2] - start;
        const int hi = k == 1 ? -1 : order_ptr[5 * z + k - 1] - start - 1;
        if (k > 1 && hi < lo) t.fail("a node of order " + std::to_string(k - 1));
        const int p = t.integer("parent node of order " + std::to_string(k - 1), lo, hi);
        parent.push_back(p < 0 ? -1 : p + start);
        factor.push_back(t.integer("atomic base index", 0, num_a - 1));
        coef.push_back(t.real("node coefficient"));
      }
  }
  t.keyword("end");
  if (t.pos != t.tok.size()) t.fail("nothing after 'end'");

  // Evaluation order.  Leaves (nodes of order >= 2 no other node extends) are never needed as
  // parents: they are not computed in the forward pass; grouped by parent they give each
  // parent's adjoint sum_k coef_k A[factor_k], grouped by factor each entry's gradient
  // sum_k coef_k AA_parent(k) (sums in registers, no scattered updates).  The other
  // (inner) nodes keep their order by correlation order, each order by the node's rank among its
  // parent's children (every parent's first child, then every second child, ...) so that
  // consecutive steps of the reverse sweep update different parents.
  const int n_nodes = static_cast<int>(factor.size());
  std::vector<int> children(n_nodes + 1, 0), rank(n_nodes), moved(n_nodes, -1);
  for (int n = 0; n < n_nodes; n++) rank[n] = children[parent[n] + 1]++;
  std::vector<int> ipar, ifac;
  std::vector<double> icoef;
  inner_ptr.assign(3 * nz, 0);
  by_parent = SparseACELeafGroups();
  by_factor = SparseACELeafGroups();
  for (int z = 0; z < nz; z++) {
    inner_ptr[3 * z] = static_cast<int>(ifac.size());
    for (int k = 1; k <= 4; k++) {
      std::vector<int> idx;
      for (int n = order_ptr[5 * z + k - 1]; n < order_ptr[5 * z + k]; n++)
        if (k == 1 || children[n + 1] > 0) idx.push_back(n);
      std::stable_sort(idx.begin(), idx.end(), [&rank](int a, int b) { return rank[a] < rank[b]; });
      for (int n : idx) {
        moved[n] = static_cast<int>(ifac.size());
        ipar.push_back(parent[n] < 0 ? -1 : moved[parent[n]]);
        ifac.push_back(factor[n]);
        icoef.push_back(coef[n]);
      }
      if (k == 1) inner_ptr[3 * z + 1] = static_cast<int>(ifac.size());
    }
    inner_ptr[3 * z + 2] = static_cast<int>(ifac.size());
    std::vector<int> leaf_parent, leaf_factor;
    std::vector<double> leaf_coef;
    for (int n = order_ptr[5 * z + 1]; n < order_ptr[5 * z + 4]; n++)
      if (children[n + 1] == 0) {
        leaf_parent.push_back(moved[parent[n]]);
        leaf_factor.push_back(factor[n]);
        leaf_coef.push_back(coef[n]);
      }
    by_parent.add_species(leaf_parent, leaf_factor, leaf_coef);
    by_factor.add_species(leaf_factor, leaf_parent, leaf_coef);
  }
  parent.swap(ipar);
  factor.swap(ifac);
  coef.swap(icoef);

  tr_mb.resize(nz * nz);
  tr_pair.resize(nz * nz);
  for (int k = 0; k < nz * nz; k++) {
    tr_mb[k].setup(rin, rcut, r0[k], mb_p, mb_q, mb_a);
    tr_pair[k].setup(rin, rcut, r0[k], pair_p, pair_q, pair_a);
  }
  // pair terms: weights times the norms of the polynomials (Clenshaw sums), recurrence padded
  pair_coef.resize(nz * nz * pair_degree);
  for (size_t k = 0; k < pair_coef.size(); k++)
    pair_coef[k] = pair_weights[k] * rec_pair[3 * (k % pair_degree) + 2];
  pair_alpha.assign(pair_degree + 2, 0.0);
  pair_beta.assign(pair_degree + 2, 0.0);
  for (int k = 1; k < pair_degree; k++) {
    pair_alpha[k] = rec_pair[3 * k];
    pair_beta[k] = rec_pair[3 * k + 1];
  }
  // harmonics, per (l, m >= 0) at l (l + 1) / 2 + m: normalisation (times sqrt 2 for m > 0)
  // and the coefficients of q_l^m = a z q_{l-1}^m - b q_{l-2}^m
  const int ntri = (lmax + 1) * (lmax + 2) / 2;
  h_norm.assign(ntri, 0.0);
  h_a.assign(ntri, 0.0);
  h_b.assign(ntri, 0.0);
  for (int l = 0; l <= lmax; l++) {
    double fac = 1.0;    // (l-m)!/(l+m)!
    for (int m = 0; m <= l; m++) {
      if (m > 0) fac /= static_cast<double>((l + m) * (l - m + 1));
      const int t = l * (l + 1) / 2 + m;
      h_norm[t] = std::sqrt((2 * l + 1) / (4.0 * M_PI) * fac) * (m > 0 ? std::sqrt(2.0) : 1.0);
      if (l > m) {
        h_a[t] = static_cast<double>(2 * l - 1) / (l - m);
        h_b[t] = static_cast<double>(l + m - 1) / (l - m);
      }
    }
  }
}

/* ---------------------------------------------------------------- pair style */

/* sum_{k0 <= k < k1} c[k] v[index[k]] in four partial sums (independent chains of additions). */
static inline double gather_dot(const double *c, const int *index, int k0, int k1, const double *v)
{
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int k = k0;
  for (; k + 4 <= k1; k += 4) {
    s0 += c[k] * v[index[k]];
    s1 += c[k + 1] * v[index[k + 1]];
    s2 += c[k + 2] * v[index[k + 2]];
    s3 += c[k + 3] * v[index[k + 3]];
  }
  for (; k < k1; k++) s0 += c[k] * v[index[k]];
  return (s0 + s1) + (s2 + s3);
}

PairSparseACE::PairSparseACE(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 0;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairSparseACE::~PairSparseACE()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairSparseACE::allocate()
{
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 0; i <= n; i++)
    for (int j = 0; j <= n; j++) setflag[i][j] = 0;
}

void PairSparseACE::settings(int narg, char **)
{
  if (narg != 0) error->all(FLERR, "Illegal pair_style sparseace command: it takes no arguments");
}

void PairSparseACE::coeff(int narg, char **arg)
{
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "pair_coeff for sparseace needs: * * <model file> followed by one element "
                      "name (or NULL) per atom type (" + std::to_string(ntypes) + " types)");
  if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for sparseace must start with * *");
  if (!allocated) allocate();
  try {
    model.read(arg[2]);
  } catch (std::exception &e) {
    have_model = false;
    error->all(FLERR, std::string("pair sparseace: ") + e.what());
  }
  have_model = true;
  type_species.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const std::string name = arg[2 + t];
    if (name == "NULL") continue;
    for (int z = 0; z < model.nz; z++)
      if (model.elements[z] == name) type_species[t] = z;
    if (type_species[t] < 0) {
      std::string known;
      for (auto &e : model.elements) known += " " + e;
      error->all(FLERR, "pair sparseace: element " + name + " (atom type " + std::to_string(t) +
                            ") is not in the model file " + arg[2] + " (elements:" + known + ")");
    }
  }
  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      setflag[i][j] = (type_species[i] >= 0 && type_species[j] >= 0) ? 1 : 0;
      count += setflag[i][j];
    }
  if (count == 0) error->all(FLERR, "Incorrect args for pair coefficients: no element mapped");

  const int nlm = (model.lmax + 1) * (model.lmax + 1);
  A.assign(model.num_a, 0.0);
  gA.assign(model.num_a, 0.0);
  AA.assign(model.factor.size(), 0.0);
  adj.assign(model.factor.size(), 0.0);
  lm_a.assign(nlm, 0.0);
  lm_b.assign(nlm, 0.0);
  h_size = 2 * (model.lmax + 1) + (model.lmax + 1) * (model.lmax + 2);
  max_neigh = 0;
  grow(64);
}

void PairSparseACE::init_style()
{
  if (!have_model) error->all(FLERR, "pair sparseace: no model read (pair_coeff missing)");
  if (force->newton_pair == 0) error->all(FLERR, "Pair style sparseace requires newton pair on");
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairSparseACE::init_one(int, int)
{
  return model.rcut;
}

double PairSparseACE::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += sizeof(double) * (nb_r.capacity() + nb_u.capacity() + nb_inv.capacity() +
                             R.capacity() + dR.capacity() + Y.capacity() + H.capacity() +
                             pair_e.capacity() + pair_g.capacity());
  return bytes;
}

void PairSparseACE::grow(int nneigh)
{
  if (nneigh <= max_neigh) return;
  max_neigh = nneigh + nneigh / 2;
  const size_t n = max_neigh, nlm = (model.lmax + 1) * (model.lmax + 1);
  nb_j.resize(n);
  nb_z.resize(n);
  nb_r.resize(3 * n);
  nb_u.resize(3 * n);
  nb_inv.resize(n);
  R.resize(n * model.n_radial);
  dR.resize(n * model.n_radial);
  Y.resize(n * nlm);
  H.resize(n * h_size);
  pair_e.resize(n);
  pair_g.resize(n);
}

/* Many-body radial functions and r-derivatives (radial.py: radial_functions, envelope
   (1 - x^2)^2). */
void PairSparseACE::radial(const SparseACETransform &t, double r, double *out, double *dout) const
{
  const int nfun = model.n_radial;
  const double *rec = model.rec_mb.data();
  if (r >= t.rcut) {
    for (int k = 0; k < nfun; k++) out[k] = dout[k] = 0.0;
    return;
  }
  double x, dxdr;
  t.eval(r, x, dxdr);
  const double w = 1.0 - x * x, env = w * w, denv = -4.0 * x * w * dxdr;
  double pm2 = 0.0, pm1 = 1.0, dpm2 = 0.0, dpm1 = 0.0;
  for (int k = 0; k < nfun; k++) {
    double Pk = 1.0, dPk = 0.0;
    if (k > 0) {
      Pk = rec[3 * k] * x * pm1 - rec[3 * k + 1] * pm2;
      dPk = rec[3 * k] * (pm1 + x * dpm1) - rec[3 * k + 1] * dpm2;
    }
    pm2 = pm1;
    pm1 = Pk;
    dpm2 = dpm1;
    dpm1 = dPk;
    const double nrm = rec[3 * k + 2];
    out[k] = nrm * Pk * env;
    dout[k] = nrm * (dPk * dxdr * env + Pk * denv);
  }
}

/* Pair energy sum_q c_q P_q(x(r)) e(r) and its r-derivative: c = weights times norms of the
   Legendre polynomials P_q (summed by Clenshaw's recurrence), e the repulsive envelope
   (radial.py: radial_functions with the pair envelope, dotted with the weights). */
void PairSparseACE::pair_sum(const SparseACETransform &t, const double *c, double r, double r0,
                             double &value, double &deriv) const
{
  const int K = model.pair_degree;
  if (r >= t.rcut || K == 0) {
    value = deriv = 0.0;
    return;
  }
  double x, dxdr;
  t.eval(r, x, dxdr);
  const double s = r / r0, sc = t.rcut / r0;
  const double env = 1.0 / (s * s) - 1.0 / (sc * sc) + 2.0 / (sc * sc * sc) * (s - sc);
  const double denv = (-2.0 / (s * s * s) + 2.0 / (sc * sc * sc)) / r0;
  const double *alpha = model.pair_alpha.data(), *beta = model.pair_beta.data();
  double b1 = 0.0, b2 = 0.0, d1 = 0.0, d2 = 0.0;    // b_{k+1}, b_{k+2} and their x-derivatives
  for (int k = K - 1; k >= 0; k--) {
    const double b = c[k] + alpha[k + 1] * x * b1 - beta[k + 2] * b2;
    const double d = alpha[k + 1] * (b1 + x * d1) - beta[k + 2] * d2;
    b2 = b1;
    b1 = b;
    d2 = d1;
    d1 = d;
  }
  value = b1 * env;
  deriv = d1 * dxdr * env + b1 * denv;
}

/* Real spherical harmonics Y (nlm) at the unit vector u (harmonics.py: real_harmonics), and the
   intermediates harmonics_gradient needs: C_m + i S_m = (x + i y)^m, then per (l, m >= 0) the
   normalised q_l^m (Y_lm = q C_m, Y_l-m = q S_m) and its z-derivative at fixed x^2 + y^2 + z^2. */
void PairSparseACE::harmonics(const double *u, double *Yo, double *Ho) const
{
  const int L = model.lmax, ntri = (L + 1) * (L + 2) / 2;
  double *C = Ho, *S = Ho + L + 1, *fq = Ho + 2 * (L + 1), *fqz = fq + ntri;
  const double x = u[0], y = u[1], z = u[2];
  const double *nrm = model.h_norm.data(), *ha = model.h_a.data(), *hb = model.h_b.data();
  C[0] = 1.0;
  S[0] = 0.0;
  for (int m = 1; m <= L; m++) {
    C[m] = x * C[m - 1] - y * S[m - 1];
    S[m] = x * S[m - 1] + y * C[m - 1];
  }
  double dfact = 1.0;    // (2m-1)!!
  for (int m = 0; m <= L; m++) {
    if (m > 0) dfact *= (2 * m - 1);
    double q1 = dfact, q2 = 0.0, qz1 = 0.0, qz2 = 0.0;    // q_{l-1}, q_{l-2}, z-derivatives
    int t = m * (m + 1) / 2 + m;
    fq[t] = nrm[t] * q1;
    fqz[t] = 0.0;
    for (int l = m + 1; l <= L; l++) {
      t += l;    // (l, m)
      const double q = ha[t] * z * q1 - hb[t] * q2;
      const double qz = ha[t] * (q1 + z * qz1) - hb[t] * qz2;
      q2 = q1;
      q1 = q;
      qz2 = qz1;
      qz1 = qz;
      fq[t] = nrm[t] * q;
      fqz[t] = nrm[t] * qz;
    }
  }
  for (int l = 0; l <= L; l++) {
    const int base = l * l + l, t0 = l * (l + 1) / 2;
    Yo[base] = fq[t0];
    for (int m = 1; m <= l; m++) {
      Yo[base + m] = fq[t0 + m] * C[m];
      Yo[base - m] = fq[t0 + m] * S[m];
    }
  }
}

/* gt = sum_lm gb_lm grad_r Y_lm(r / |r|) from the intermediates of harmonics(u).  The gradient
   of Y_lm is the tangential part of the gradient of its polynomial S_lm = q C_m (or q S_m),
   divided by |r|; the tangential part of grad q is dq/dz e_z, and grad C_m = m (C_{m-1},
   -S_{m-1}, 0), grad S_m = m (S_{m-1}, C_{m-1}, 0). */
void PairSparseACE::harmonics_gradient(const double *u, double inv_r, const double *gb,
                                       const double *Ho, double *gt) const
{
  const int L = model.lmax, ntri = (L + 1) * (L + 2) / 2;
  const double *C = Ho, *S = Ho + L + 1, *fq = Ho + 2 * (L + 1), *fqz = fq + ntri;
  double wx = 0.0, wy = 0.0, wz = 0.0;
  for (int m = 0; m <= L; m++) {
    double ac = 0.0, bc = 0.0, as = 0.0, bs = 0.0;    // sums over l of gb q, gb dq/dz
    for (int l = m; l <= L; l++) {
      const int t = l * (l + 1) / 2 + m, base = l * l + l;
      ac += gb[base + m] * fq[t];
      bc += gb[base + m] * fqz[t];
      as += gb[base - m] * fq[t];
      bs += gb[base - m] * fqz[t];
    }
    if (m == 0) {
      wz += bc;
      continue;
    }
    wz += bc * C[m] + bs * S[m];
    wx += m * (ac * C[m - 1] + as * S[m - 1]);
    wy += m * (as * C[m - 1] - ac * S[m - 1]);
  }
  const double uw = u[0] * wx + u[1] * wy + u[2] * wz;
  gt[0] = (wx - uw * u[0]) * inv_r;
  gt[1] = (wy - uw * u[1]) * inv_r;
  gt[2] = (wz - uw * u[2]) * inv_r;
}

void PairSparseACE::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  double **x = atom->x;
  double **f = atom->f;
  const int *type = atom->type;
  const int inum = list->inum;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;

  const SparseACEModel &M = model;
  const int nz = M.nz, nr = M.n_radial, npd = M.pair_degree;
  const int nlm = (M.lmax + 1) * (M.lmax + 1);
  const double rcutsq = M.rcut * M.rcut;
  const int *run = M.run_start.data();

  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int zi = type_species[type[i]];
    if (zi < 0) continue;
    const int *jlist = firstneigh[i];
    const int jnum = numneigh[i];
    grow(jnum);

    // neighbours within the cutoff: geometry, radial and angular values, pair terms
    int n = 0;
    double e = M.eref[zi];
    for (int jj = 0; jj < jnum; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const int zj = type_species[type[j]];
      if (zj < 0) continue;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      const double rsq = dx * dx + dy * dy + dz * dz;
      if (rsq >= rcutsq) continue;
      const double d = std::sqrt(rsq), inv = 1.0 / d;
      nb_j[n] = j;
      nb_z[n] = zj;
      nb_inv[n] = inv;
      double *r = &nb_r[3 * n], *u = &nb_u[3 * n];
      r[0] = dx;
      r[1] = dy;
      r[2] = dz;
      u[0] = dx * inv;
      u[1] = dy * inv;
      u[2] = dz * inv;
      const int zz = zi * nz + zj;
      radial(M.tr_mb[zz], d, &R[n * nr], &dR[n * nr]);
      pair_sum(M.tr_pair[zz], &M.pair_coef[zz * npd], d, M.r0[zz], pair_e[n], pair_g[n]);
      e += pair_e[n];
      harmonics(u, &Y[static_cast<size_t>(n) * nlm], &H[static_cast<size_t>(n) * h_size]);
      n++;
    }

    // atomic base A, in runs of (neighbour species, radial degree) over lm
    double *__restrict Av = A.data();
    for (int v = 0; v < M.num_a; v++) Av[v] = 0.0;
    for (int p = 0; p < n; p++) {
      const int *rz = run + nb_z[p] * nr;
      const double *Rp = &R[p * nr];
      const double *__restrict Yp = &Y[static_cast<size_t>(p) * nlm];
      for (int d = 0; d < nr; d++) {
        const double rd = Rp[d];
        double *__restrict a = Av + rz[d];
        const int len = rz[d + 1] - rz[d];
#pragma omp simd
        for (int lm = 0; lm < len; lm++) a[lm] += rd * Yp[lm];
      }
    }

    // products through the DAG: forward over the inner nodes; the adjoint dE/dA by the
    // reverse sweep, leaves first (grouped by parent for the parents' adjoints, by factor for
    // the entries' gradients), then the inner nodes
    const int *ip = &M.inner_ptr[3 * zi];
    const int lo = ip[0], n1 = ip[1], hi = ip[2];
    const int *par = M.parent.data(), *fac = M.factor.data();
    const double *cf = M.coef.data();
    double *__restrict P2 = AA.data(), *__restrict ad = adj.data(), *__restrict g = gA.data();
    for (int k = lo; k < n1; k++) P2[k] = Av[fac[k]];
    for (int k = n1; k < hi; k++) P2[k] = P2[par[k]] * Av[fac[k]];
    if (eflag_either) {
#pragma omp simd reduction(+ : e)
      for (int k = lo; k < hi; k++) e += cf[k] * P2[k];
    }
    std::copy(cf + lo, cf + hi, ad + lo);
    for (int v = 0; v < M.num_a; v++) g[v] = 0.0;
    const SparseACELeafGroups &bp = M.by_parent, &bf = M.by_factor;
    for (int grp = bp.species_ptr[zi]; grp < bp.species_ptr[zi + 1]; grp++) {
      const double s = gather_dot(bp.coef.data(), bp.other.data(), bp.start[grp], bp.start[grp + 1], Av);
      ad[bp.key[grp]] += s;
      if (eflag_either) e += s * P2[bp.key[grp]];
    }
    for (int grp = bf.species_ptr[zi]; grp < bf.species_ptr[zi + 1]; grp++)
      g[bf.key[grp]] += gather_dot(bf.coef.data(), bf.other.data(), bf.start[grp], bf.start[grp + 1], P2);
    for (int k = hi - 1; k >= n1; k--) {
      const double a = ad[k];
      const int fk = fac[k], q = par[k];
      g[fk] += a * P2[q];
      ad[q] += a * Av[fk];
    }
    for (int k = lo; k < n1; k++) g[fac[k]] += ad[k];

    // pair gradients dE_i/dr_ij = (radial derivatives) u + (angular derivatives): forces, virial
    double fi[3] = {0.0, 0.0, 0.0};
    for (int p = 0; p < n; p++) {
      const int zj = nb_z[p], j = nb_j[p];
      const double *u = &nb_u[3 * p], *r = &nb_r[3 * p];
      // per lm: sums over the radial degree of dE/dA times dR (ga) and times R (gb)
      const int *rz = run + zj * nr;
      const double *Rp = &R[p * nr], *dRp = &dR[p * nr];
      double *__restrict ga = lm_a.data(), *__restrict gb = lm_b.data();
      for (int lm = 0; lm < nlm; lm++) ga[lm] = gb[lm] = 0.0;
      for (int d = 0; d < nr; d++) {
        const double rd = Rp[d], drd = dRp[d];
        const double *__restrict gr = g + rz[d];
        const int len = rz[d + 1] - rz[d];
#pragma omp simd
        for (int lm = 0; lm < len; lm++) {
          ga[lm] += gr[lm] * drd;
          gb[lm] += gr[lm] * rd;
        }
      }
      const double *__restrict Yp = &Y[static_cast<size_t>(p) * nlm];
      double gu = pair_g[p];
#pragma omp simd reduction(+ : gu)
      for (int lm = 0; lm < nlm; lm++) gu += ga[lm] * Yp[lm];
      double gv[3];
      harmonics_gradient(u, nb_inv[p], gb, &H[static_cast<size_t>(p) * h_size], gv);
      for (int c = 0; c < 3; c++) gv[c] += gu * u[c];
      fi[0] += gv[0];
      fi[1] += gv[1];
      fi[2] += gv[2];
      f[j][0] -= gv[0];
      f[j][1] -= gv[1];
      f[j][2] -= gv[2];
      if (vflag_atom) {
        const double v[6] = {-r[0] * gv[0], -r[1] * gv[1], -r[2] * gv[2],
                             -0.5 * (r[0] * gv[1] + r[1] * gv[0]), -0.5 * (r[0] * gv[2] + r[2] * gv[0]),
                             -0.5 * (r[1] * gv[2] + r[2] * gv[1])};
        for (int c = 0; c < 6; c++) {
          vatom[i][c] += 0.5 * v[c];
          vatom[j][c] += 0.5 * v[c];
        }
      }
    }
    f[i][0] += fi[0];
    f[i][1] += fi[1];
    f[i][2] += fi[2];
    if (eflag_global) eng_vdwl += e;
    if (eflag_atom) eatom[i] += e;
  }

  if (vflag_fdotr) virial_fdotr_compute();
}
