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
#ifdef SPARSEACE_LEGACY_NEIGHBOR_REQUEST
#include "legacy_request.h"
#endif

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>
#if defined(__AVX__)
#include <immintrin.h>
#endif

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
  y_from_powers(power(s, q - p, int_exponents), power(s, q - 1, int_exponents),
                power(s, q, int_exponents), y, dy);
}

/* y and dy/ds from s^(q-p), s^(q-1) and s^q. */
inline void SparseACETransform::y_from_powers(double sqp, double sq1, double sq, double &y,
                                              double &dy) const
{
  const double f = a * sq / (1.0 + sqp);
  const double df = a * sq1 * (q + p * sqp) / ((1.0 + sqp) * (1.0 + sqp));
  y = 1.0 / (1.0 + f);
  dy = -df * y * y;
}

void SparseACETransform::eval(int n, const double *__restrict r, double *__restrict x,
                              double *__restrict dxdr) const
{
  if (!int_exponents || q > MAX_INT_EXPONENT) {
    for (int k = 0; k < n; k++) {
      double y, dy;
      y_and_dy((r[k] - rin) * scale, y, dy);
      x[k] = -1.0 + c * (y - y_in);
      dxdr[k] = c * dy * scale;
    }
    return;
  }
  // integer powers by products up to a fixed exponent: a loop the compiler unrolls, so that
  // the loop over distances vectorises
  const int iqp = static_cast<int>(q - p), iq1 = static_cast<int>(q - 1), iq = static_cast<int>(q);
#pragma omp simd
  for (int k = 0; k < n; k++) {
    const double s = (r[k] - rin) * scale;
    double pw = 1.0, sqp = 1.0, sq1 = 1.0, sq = 1.0;
    for (int e = 1; e <= MAX_INT_EXPONENT; e++) {
      pw *= s;
      sqp = e == iqp ? pw : sqp;
      sq1 = e == iq1 ? pw : sq1;
      sq = e == iq ? pw : sq;
    }
    double y, dy;
    y_from_powers(sqp, sq1, sq, y, dy);
    x[k] = -1.0 + c * (y - y_in);
    dxdr[k] = c * dy * scale;
  }
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

void SparseACERows::add_species(const std::vector<int> &keys, const std::vector<int> &cols,
                                const std::vector<double> &coefs, const std::vector<int> &phase)
{
  // entries by key, then the rows by phase and by length (loops of equal trip counts in a row:
  // the branch predictor follows them)
  std::vector<int> idx(keys.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&keys](int a, int b) { return keys[a] < keys[b]; });
  struct Row { int first, size, phase; };
  std::vector<Row> rows;
  for (size_t t = 0; t < idx.size(); t++) {
    if (t == 0 || keys[idx[t]] != keys[idx[t - 1]])
      rows.push_back({static_cast<int>(t), 0, phase.empty() ? 0 : phase[keys[idx[t]]]});
    rows.back().size++;
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
    return a.phase != b.phase ? a.phase < b.phase : a.size < b.size;
  });
  for (const auto &row : rows) {
    key.push_back(keys[idx[row.first]]);
    for (int t = row.first; t < row.first + row.size; t++) {
      col.push_back(cols[idx[t]]);
      if (!coefs.empty()) coef.push_back(coefs[idx[t]]);
    }
    start.push_back(static_cast<int>(col.size()));
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
  const int nlm = (lmax + 1) * (lmax + 1);
  proj_ptr.assign(1, 0);
  proj_d.clear();
  proj_v.clear();
  for (int z = 0; z < nz; z++)
    for (int lm = 0; lm < nlm; lm++) {
      for (int d = 0; d < n_radial; d++)
        if (lm < run_start[z * n_radial + d + 1] - run_start[z * n_radial + d]) {
          proj_d.push_back(d);
          proj_v.push_back(run_start[z * n_radial + d] + lm);
        }
      proj_ptr.push_back(static_cast<int>(proj_d.size()));
    }
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
  // parents: they are not computed in the forward pass, only their sparse matrices (see the
  // header) are kept.  The other (inner) nodes keep their order by correlation order, each
  // order by parent (a parent's children in a row).
  const int n_nodes = static_cast<int>(factor.size());
  std::vector<int> children(n_nodes + 1, 0), moved(n_nodes, -1);
  for (int n = 0; n < n_nodes; n++) children[parent[n] + 1]++;
  std::vector<int> ipar, ifac, iorder;
  std::vector<double> icoef;
  inner_ptr.assign(3 * nz, 0);
  inner_by_parent = SparseACERows();
  leaves_by_parent = SparseACERows();
  for (int z = 0; z < nz; z++) {
    inner_ptr[3 * z] = static_cast<int>(ifac.size());
    std::vector<int> leaf_parent, leaf_factor;
    std::vector<double> leaf_coef;
    for (int k = 1; k <= 4; k++) {
      std::vector<int> idx;
      for (int n = order_ptr[5 * z + k - 1]; n < order_ptr[5 * z + k]; n++) {
        if (k == 1 || children[n + 1] > 0) {
          idx.push_back(n);
        } else {
          leaf_parent.push_back(moved[parent[n]]);
          leaf_factor.push_back(factor[n]);
          leaf_coef.push_back(coef[n]);
        }
      }
      std::stable_sort(idx.begin(), idx.end(), [this, &moved](int a, int b) {
        return (parent[a] < 0 ? -1 : moved[parent[a]]) < (parent[b] < 0 ? -1 : moved[parent[b]]);
      });
      for (int n : idx) {
        moved[n] = static_cast<int>(ifac.size());
        ipar.push_back(parent[n] < 0 ? -1 : moved[parent[n]]);
        ifac.push_back(factor[n]);
        icoef.push_back(coef[n]);
        iorder.push_back(k);
      }
      if (k == 1) inner_ptr[3 * z + 1] = static_cast<int>(ifac.size());
    }
    inner_ptr[3 * z + 2] = static_cast<int>(ifac.size());
    leaves_by_parent.add_species(leaf_parent, leaf_factor, leaf_coef);
    std::vector<int> child, child_parent, phase(iorder.size());
    for (int n = inner_ptr[3 * z + 1]; n < inner_ptr[3 * z + 2]; n++) {
      child.push_back(n);
      child_parent.push_back(ipar[n]);
    }
    for (size_t n = 0; n < iorder.size(); n++) phase[n] = -iorder[n];    // highest order first
    inner_by_parent.add_species(child_parent, child, {}, phase);
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
  pair_top.assign(nz * nz, 0);
  for (int k = 0; k < nz * nz; k++)
    for (int q = 0; q < pair_degree; q++)
      if (pair_coef[k * pair_degree + q] != 0.0) pair_top[k] = q + 1;
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

/* Vectors of doubles (GCC/Clang vector extension): vecw, SPARSEACE_VW (consecutive neighbours
   in the neighbour kernels; an entry of the centres of a batch, one per lane); vec4, four. */
typedef double vec4 __attribute__((vector_size(32)));
typedef double vecw __attribute__((vector_size(8 * SPARSEACE_VW)));
static inline vecw loadw(const double *p)
{
  vecw v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline vecw sqrt(vecw v)    // (std::sqrt in a loop is not vectorised: errno)
{
#if defined(__AVX512F__)
  return reinterpret_cast<vecw>(_mm512_sqrt_pd(reinterpret_cast<__m512d>(v)));
#elif defined(__AVX__)
  return reinterpret_cast<vecw>(_mm256_sqrt_pd(reinterpret_cast<__m256d>(v)));
#else
  for (int c = 0; c < SPARSEACE_VW; c++) v[c] = std::sqrt(v[c]);
  return v;
#endif
}
template <class V> static inline void store(double *p, V v)
{
  std::memcpy(p, &v, sizeof v);
}

/* Phases of compute() timed with $SPARSEACE_PROFILE (the file gets one line "name seconds" each,
   then "centres N": the atoms evaluated). */
static const char *const PROFILE_PHASES[] = {
    "distances+transforms", "radial+pair", "harmonics", "atomic_base", "products",
    "reverse_sweep", "force_projection", "harmonics_gradient", "force_scatter"};
static const int N_PHASES = sizeof(PROFILE_PHASES) / sizeof(PROFILE_PHASES[0]);

PairSparseACE::PairSparseACE(LAMMPS *lmp) : Pair(lmp)
{
  const char *profile = std::getenv("SPARSEACE_PROFILE");
  if (profile && *profile) {
    profile_path = profile;
    profile_seconds.assign(N_PHASES + 1, 0.0);    // + 1: the count of centres
  }
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 0;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairSparseACE::~PairSparseACE()
{
  if (!profile_path.empty()) {
    std::ofstream out(profile_path);
    for (int k = 0; k < N_PHASES; k++) out << PROFILE_PHASES[k] << " " << profile_seconds[k] << "\n";
    out << "centres " << profile_seconds[N_PHASES] << "\n";
  }
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

/* Messages go to error->all as std::string: the overload that needs no fmt (see
   compat/fmt/format.h). */
void PairSparseACE::settings(int narg, char **)
{
  if (narg != 0)
    error->all(FLERR, std::string("Illegal pair_style sparseace command: it takes no arguments"));
}

void PairSparseACE::coeff(int narg, char **arg)
{
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "pair_coeff for sparseace needs: * * <model file> followed by one element "
                      "name (or NULL) per atom type (" + std::to_string(ntypes) + " types)");
  if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
    error->all(FLERR, std::string("pair_coeff for sparseace must start with * *"));
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
  if (count == 0)
    error->all(FLERR, std::string("Incorrect args for pair coefficients: no element mapped"));

  A.assign(model.num_a, 0.0);
  gA.assign(model.num_a, 0.0);
  AL.assign(LANES * model.num_a, 0.0);
  gAL.assign(LANES * model.num_a, 0.0);
  AAL.assign(LANES * model.factor.size(), 0.0);
  adjL.assign(LANES * model.factor.size(), 0.0);
  nb_ptr.assign(model.nz + 1, 0);
  for (auto &c : lane_arrays) c.nb_ptr.assign(model.nz + 1, 0);
  max_neigh = 0;
  grow(64);
}

void PairSparseACE::init_style()
{
  if (!have_model)
    error->all(FLERR, std::string("pair sparseace: no model read (pair_coeff missing)"));
  if (force->newton_pair == 0)
    error->all(FLERR, std::string("Pair style sparseace requires newton pair on"));
#ifdef SPARSEACE_LEGACY_NEIGHBOR_REQUEST    // set by CMakeLists.txt for LAMMPS before 2022
  request_full_list_legacy(lmp, this, instance_me);
#else
  neighbor->add_request(this, NeighConst::REQ_FULL);
#endif
}

double PairSparseACE::init_one(int, int)
{
  return model.rcut;
}

double PairSparseACE::memory_usage()
{
  double bytes = Pair::memory_usage();
  for (const auto *v : neighbour_arrays()) bytes += sizeof(double) * v->capacity();
  return bytes;
}

std::vector<PairSparseACE::Work *> PairSparseACE::neighbour_arrays()
{
  return {&dist, &xm, &dxm, &xp, &dxp, &pair_e, &gu, &w0, &w1, &w2};
}

/* The arrays of one neighbour per entry that centre_forces reads (kept per lane). */
std::vector<PairSparseACE::Work *> PairSparseACE::kept_arrays()
{
  return {&rx, &ry, &rz, &ux, &uy, &uz, &inv_r, &pair_g};
}

/* One step of the three-term recurrence P_k = a x P_{k-1} - b P_{k-2} and of its x-derivative
   at VW x: (p1, p2, d1, d2) hold (P_{k-1}, P_{k-2}, P'_{k-1}, P'_{k-2}) and become
   (P_k, P_{k-1}, P'_k, P'_{k-1}). */
static inline void recurrence_step(double a, double b, vecw x, vecw &p1, vecw &p2, vecw &d1,
                                   vecw &d2)
{
  const vecw P = a * x * p1 - b * p2;
  const vecw dP = a * (p1 + x * d1) - b * d2;
  p2 = p1;
  p1 = P;
  d2 = d1;
  d1 = dP;
}

/* Work arrays of the neighbours of one centre, neighbour index fastest (stride max_neigh): the
   shared ones and those of every lane. */
void PairSparseACE::grow(int nneigh)
{
  if (nneigh <= max_neigh) return;
  // rows padded for a block past the last neighbour; each row starts on a 64-byte boundary
  max_neigh = (nneigh + nneigh / 2 + BLOCK + 7) / 8 * 8;
  const size_t n = max_neigh, L1 = model.lmax + 1, nlm = L1 * L1;
  for (auto *v : neighbour_arrays()) v->resize(n);
  gb.resize(n * nlm);
  for (int lane = 0; lane < LANES; lane++) {
    swap_lane(lane);
    nb_j.resize(n);
    for (auto *v : kept_arrays()) v->resize(n);
    R.resize(n * model.n_radial);
    dR.resize(n * model.n_radial);
    Y.resize(n * nlm);
    swap_lane(lane);
  }
}

/* Many-body radial functions R_k and dR_k/dr of the neighbours [0, n) (radial.py:
   radial_functions with the envelope (1 - x^2)^2); x, dx/dr in xm, dxm.  2 VW neighbours at a
   time with the recurrence in registers (the last block runs into the padding). */
void PairSparseACE::radial(int n)
{
  const int nr = model.n_radial, ld = max_neigh;
  const double *rec = model.rec_mb.data();
  for (int pb = 0; pb < n; pb += 2 * VW) {
    vecw x[2], dx[2], env[2], denv[2], p1[2], p2[2], d1[2], d2[2];
    for (int c = 0; c < 2; c++) {
      x[c] = loadw(&xm[pb + VW * c]);
      dx[c] = loadw(&dxm[pb + VW * c]);
      const vecw w = 1.0 - x[c] * x[c];
      env[c] = w * w;
      denv[c] = -4.0 * x[c] * w * dx[c];
      p1[c] = vecw{} + 1.0;
      p2[c] = d1[c] = d2[c] = vecw{};
      store(&R[pb + VW * c], rec[2] * env[c]);
      store(&dR[pb + VW * c], rec[2] * denv[c]);
    }
    for (int k = 1; k < nr; k++) {
      const double a = rec[3 * k], b = rec[3 * k + 1], nrm = rec[3 * k + 2];
      for (int c = 0; c < 2; c++) {
        recurrence_step(a, b, x[c], p1[c], p2[c], d1[c], d2[c]);
        store(&R[static_cast<size_t>(k) * ld + pb + VW * c], nrm * p1[c] * env[c]);
        store(&dR[static_cast<size_t>(k) * ld + pb + VW * c],
              nrm * (d1[c] * dx[c] * env[c] + p1[c] * denv[c]));
      }
    }
  }
}

/* Pair energies sum_q c_q P_q(x(r)) e(r) and their r-derivatives of the neighbours [p0, p1) of
   one species pair: c = weights times norms of the Legendre polynomials P_q, q < K (summed by
   Clenshaw's recurrence), e the repulsive envelope (radial.py, pair envelope).  2 VW
   neighbours at a time in registers (the last block runs past p1: into the next species',
   rewritten after, or the padding). */
void PairSparseACE::pair_terms(int p0, int p1, const double *c, int K, double r0)
{
  const double *alpha = model.pair_alpha.data(), *beta = model.pair_beta.data();
  const double sc = model.rcut / r0;
  for (int pb = p0; pb < p1; pb += 2 * VW) {
    vecw x[2], b1[2], b2[2], d1[2], d2[2];
    for (int h = 0; h < 2; h++) {
      x[h] = loadw(&xp[pb + VW * h]);
      b1[h] = b2[h] = d1[h] = d2[h] = vecw{};
    }
    for (int k = K - 1; k >= 0; k--) {
      const double ak = alpha[k + 1], bk = beta[k + 2], ck = c[k];
      for (int h = 0; h < 2; h++) {
        const vecw b = ck + ak * x[h] * b1[h] - bk * b2[h];
        const vecw db = ak * (b1[h] + x[h] * d1[h]) - bk * d2[h];
        b2[h] = b1[h];
        b1[h] = b;
        d2[h] = d1[h];
        d1[h] = db;
      }
    }
    for (int h = 0; h < 2; h++) {
      const vecw s = loadw(&dist[pb + VW * h]) / r0;
      const vecw env = 1.0 / (s * s) - 1.0 / (sc * sc) + 2.0 / (sc * sc * sc) * (s - sc);
      const vecw denv = (-2.0 / (s * s * s) + 2.0 / (sc * sc * sc)) / r0;
      store(&pair_e[pb + VW * h], b1[h] * env);
      store(&pair_g[pb + VW * h], d1[h] * loadw(&dxp[pb + VW * h]) * env + b1[h] * denv);
    }
  }
}

/* Real spherical harmonics Y_lm of the unit vectors of the neighbours [0, n) (harmonics.py:
   real_harmonics): C_m + i S_m = (x + i y)^m and per (l, m >= 0) the normalised q_l^m by its
   recurrence in z, Y_lm = q C_m, Y_l-m = q S_m. */
void PairSparseACE::harmonics(int n)
{
  const int L = model.lmax, ld = max_neigh;
  const double *nrm = model.h_norm.data(), *ha = model.h_a.data(), *hb = model.h_b.data();
  for (int pb = 0; pb < n; pb += 2 * VW) {    // 2 VW neighbours at a time (the last into the padding)
    vecw x[2], y[2], z[2], C[2], S[2];
    for (int h = 0; h < 2; h++) {
      x[h] = loadw(&ux[pb + VW * h]);
      y[h] = loadw(&uy[pb + VW * h]);
      z[h] = loadw(&uz[pb + VW * h]);
      C[h] = vecw{} + 1.0;
      S[h] = vecw{};
    }
    double dfact = 1.0;    // (2m-1)!!
    for (int m = 0; m <= L; m++) {
      if (m > 0) dfact *= (2 * m - 1);
      vecw q1[2], q2[2], qz1[2], qz2[2];
      for (int h = 0; h < 2; h++) {
        if (m > 0) {
          const vecw c = x[h] * C[h] - y[h] * S[h];
          S[h] = x[h] * S[h] + y[h] * C[h];
          C[h] = c;
        }
        q1[h] = vecw{} + dfact;
        q2[h] = qz1[h] = qz2[h] = vecw{};
      }
      int t = m * (m + 1) / 2 + m;
      for (int l = m; l <= L; l++) {
        if (l > m) t += l;    // (l, m)
        const double f = nrm[t], a = ha[t], b = hb[t];
        const size_t lmc = static_cast<size_t>(l * l + l + m) * ld + pb,
                     lms = static_cast<size_t>(l * l + l - m) * ld + pb;
        for (int h = 0; h < 2; h++) {
          if (l > m) recurrence_step(a, b, z[h], q1[h], q2[h], qz1[h], qz2[h]);
          const vecw fqv = f * q1[h];
          store(&Y[lmc + VW * h], m == 0 ? fqv : fqv * C[h]);
          if (m > 0) store(&Y[lms + VW * h], fqv * S[h]);
        }
      }
    }
  }
}

/* (w0, w1, w2)[p] = sum_lm gb_lm(p) grad_r Y_lm(r_p / |r_p|), with C_m, S_m and q_l^m and its
   z-derivative at fixed x^2 + y^2 + z^2 computed again as in harmonics() (cheaper than storing
   them).  The gradient of Y_lm is the tangential part of the gradient of its polynomial
   S_lm = q C_m (or q S_m), divided by |r|; the tangential part of grad q is dq/dz e_z, and
   grad C_m = m (C_{m-1}, -S_{m-1}, 0), grad S_m = m (S_{m-1}, C_{m-1}, 0). */
void PairSparseACE::harmonics_gradient(int n)
{
  const int L = model.lmax, ld = max_neigh;
  const double *nrm = model.h_norm.data(), *ha = model.h_a.data(), *hb = model.h_b.data();
  for (int pb = 0; pb < n; pb += 2 * VW) {    // 2 VW neighbours at a time (the last into the padding)
    vecw x[2], y[2], z[2], C[2], S[2], wx[2], wy[2], wz[2];
    for (int h = 0; h < 2; h++) {
      x[h] = loadw(&ux[pb + VW * h]);
      y[h] = loadw(&uy[pb + VW * h]);
      z[h] = loadw(&uz[pb + VW * h]);
      C[h] = vecw{} + 1.0;
      S[h] = wx[h] = wy[h] = wz[h] = vecw{};
    }
    double dfact = 1.0;    // (2m-1)!!
    for (int m = 0; m <= L; m++) {
      if (m > 0) dfact *= (2 * m - 1);
      vecw Cp[2], Sp[2], q1[2], q2[2], qz1[2], qz2[2];
      vecw ac[2], bc[2], as[2], bs[2];    // sums over l of gb q and gb dq/dz
      for (int h = 0; h < 2; h++) {
        Cp[h] = C[h];
        Sp[h] = S[h];
        if (m > 0) {
          C[h] = x[h] * Cp[h] - y[h] * Sp[h];
          S[h] = x[h] * Sp[h] + y[h] * Cp[h];
        }
        q1[h] = vecw{} + dfact;
        q2[h] = qz1[h] = qz2[h] = ac[h] = bc[h] = as[h] = bs[h] = vecw{};
      }
      int t = m * (m + 1) / 2 + m;
      for (int l = m; l <= L; l++) {
        if (l > m) t += l;    // (l, m)
        const double f = nrm[t], a = ha[t], b = hb[t];
        const size_t lmc = static_cast<size_t>(l * l + l + m) * ld + pb,
                     lms = static_cast<size_t>(l * l + l - m) * ld + pb;
        for (int h = 0; h < 2; h++) {
          if (l > m) recurrence_step(a, b, z[h], q1[h], q2[h], qz1[h], qz2[h]);
          const vecw gc = loadw(&gb[lmc + VW * h]), gs = loadw(&gb[lms + VW * h]);
          const vecw fq = f * q1[h], fz = f * qz1[h];
          ac[h] += gc * fq;
          bc[h] += gc * fz;
          as[h] += gs * fq;
          bs[h] += gs * fz;
        }
      }
      for (int h = 0; h < 2; h++) {
        if (m == 0) {
          wz[h] += bc[h];
          continue;
        }
        wz[h] += bc[h] * C[h] + bs[h] * S[h];
        wx[h] += static_cast<double>(m) * (ac[h] * Cp[h] + as[h] * Sp[h]);
        wy[h] += static_cast<double>(m) * (as[h] * Cp[h] - ac[h] * Sp[h]);
      }
    }
    for (int h = 0; h < 2; h++) {
      const size_t o = pb + VW * h;
      const vecw x = loadw(&ux[o]), y = loadw(&uy[o]), z = loadw(&uz[o]), ir = loadw(&inv_r[o]);
      const vecw uw = x * wx[h] + y * wy[h] + z * wz[h];
      store(&w0[o], (wx[h] - uw * x) * ir);
      store(&w1[o], (wy[h] - uw * y) * ir);
      store(&w2[o], (wz[h] - uw * z) * ir);
    }
  }
}

/* The time since the last tick into a phase of the profile ($SPARSEACE_PROFILE). */
void PairSparseACE::tick(int phase)
{
  if (profile_seconds.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  profile_seconds[phase] += std::chrono::duration<double>(now - profile_clock).count();
  profile_clock = now;
}

/* Exchange the arrays of the centre in lane `lane` of a batch with the working arrays (swapping
   again puts them back). */
void PairSparseACE::swap_lane(int lane)
{
  CentreArrays &c = lane_arrays[lane];
  nb_j.swap(c.nb_j);
  nb_ptr.swap(c.nb_ptr);
  Work *mine[] = {&rx, &ry, &rz, &ux, &uy, &uz, &inv_r, &pair_g, &R, &dR, &Y};
  for (size_t k = 0; k < c.v.size(); k++) mine[k]->swap(c.v[k]);
}

/* Eight ones, eight zeros: from 8 - k, the mask of the first k lanes of a vecw. */
static const double HEAD_MASK[16] = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
static_assert(SPARSEACE_VW <= 8, "HEAD_MASK holds up to eight ones");

/* The sum of the halves of a vecw of eight (a vecw of four itself). */
static inline vec4 fold(vecw s)
{
  vec4 lo, hi = {};
  std::memcpy(&lo, &s, sizeof lo);
  if (sizeof s > sizeof lo) std::memcpy(&hi, reinterpret_cast<const char *>(&s) + sizeof lo, sizeof hi);
  return lo + hi;
}

/* sum_p R[p] Y_k[p] over p in [p0, p1) of four rows Y_k, VW neighbours at a time (the last
   masked). */
static inline vec4 project4(const double *__restrict R, const double *const Y[4], int p0, int p1)
{
  vecw s0 = {}, s1 = {}, s2 = {}, s3 = {};
  auto add = [&](int p, vecw r) {
    s0 += r * loadw(Y[0] + p);
    s1 += r * loadw(Y[1] + p);
    s2 += r * loadw(Y[2] + p);
    s3 += r * loadw(Y[3] + p);
  };
  int p = p0;
  for (; p + SPARSEACE_VW <= p1; p += SPARSEACE_VW) add(p, loadw(R + p));
  // the last neighbours: the rows run on into the next species' or the padding (finite)
  if (p < p1) add(p, loadw(R + p) * loadw(HEAD_MASK + 8 - (p1 - p)));
  const vec4 f0 = fold(s0), f1 = fold(s1), f2 = fold(s2), f3 = fold(s3);
  const vec4 t0 = vec4{f0[0], f1[0], f2[0], f3[0]} + vec4{f0[1], f1[1], f2[1], f3[1]};
  const vec4 t1 = vec4{f0[2], f1[2], f2[2], f3[2]} + vec4{f0[3], f1[3], f2[3], f3[3]};
  return t0 + t1;
}

/* Neighbours within the cutoff of centre i (species zi) and their geometry, radial functions,
   pair terms, harmonics and the atomic base A; returns Eref plus the pair energy. */
double PairSparseACE::centre_base(int i, int zi)
{
  double **x = atom->x;
  const int *type = atom->type;
  const int *jlist = list->firstneigh[i];
  const int jnum = list->numneigh[i];
  const SparseACEModel &M = model;
  const int nz = M.nz, nr = M.n_radial, npd = M.pair_degree, ld = max_neigh;
  const double rcutsq = M.rcut * M.rcut;
  const int *run = M.run_start.data();

  // neighbours within the cutoff, grouped by species (nb_ptr): r_ij and |r_ij|^2 (in dist)
  const double xi[3] = {x[i][0], x[i][1], x[i][2]};
  int n = 0;
  for (int z = 0; z < nz; z++) {
    nb_ptr[z] = n;
    for (int jj = 0; jj < jnum; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      if (type_species[type[j]] != z) continue;
      const double dx = x[j][0] - xi[0], dy = x[j][1] - xi[1], dz = x[j][2] - xi[2];
      const double rsq = dx * dx + dy * dy + dz * dz;
      nb_j[n] = j;    // written always, kept if within the cutoff (no branch to mispredict)
      rx[n] = dx;
      ry[n] = dy;
      rz[n] = dz;
      dist[n] = rsq;
      n += rsq < rcutsq;
    }
  }
  nb_ptr[nz] = n;
  for (int p = n; p < n + BLOCK; p++) {    // padding read by blocks past the last neighbour
    rx[p] = ry[p] = rz[p] = 0.0;
    dist[p] = rcutsq;
    xm[p] = dxm[p] = xp[p] = dxp[p] = 0.0;
  }
  // distances, unit vectors (VW neighbours at a time, the padding too) and the transforms
  for (int p = 0; p < n + BLOCK; p += VW) {
    const vecw d = sqrt(loadw(&dist[p])), inv = 1.0 / d;
    store(&dist[p], d);
    store(&inv_r[p], inv);
    store(&ux[p], loadw(&rx[p]) * inv);
    store(&uy[p], loadw(&ry[p]) * inv);
    store(&uz[p], loadw(&rz[p]) * inv);
  }
  for (int z = 0; z < nz; z++) {
    M.tr_mb[zi * nz + z].eval(nb_ptr[z + 1] - nb_ptr[z], &dist[nb_ptr[z]], &xm[nb_ptr[z]], &dxm[nb_ptr[z]]);
    M.tr_pair[zi * nz + z].eval(nb_ptr[z + 1] - nb_ptr[z], &dist[nb_ptr[z]], &xp[nb_ptr[z]], &dxp[nb_ptr[z]]);
  }
  tick(0);

  // radial functions, pair terms and harmonics of every neighbour
  radial(n);
  double e = M.eref[zi];
  for (int z = 0; z < nz; z++) {
    const int top = M.pair_top[zi * nz + z];
    if (top > 0)
      pair_terms(nb_ptr[z], nb_ptr[z + 1], &M.pair_coef[(zi * nz + z) * npd], top,
                 M.r0[zi * nz + z]);
    else
      for (int p = nb_ptr[z]; p < nb_ptr[z + 1]; p++) pair_e[p] = pair_g[p] = 0.0;
  }
  for (int p = 0; p < n; p++) e += pair_e[p];
  tick(1);
  harmonics(n);
  tick(2);

  // atomic base A: run (species z, radial degree d) holds sum_j R_d(r_j) Y_lm(u_j) over lm,
  // four lm at a time (each R_d load serves four sums; the last group repeats its last row)
  double *__restrict Av = A.data();
  for (int z = 0; z < nz; z++) {
    const int p0 = nb_ptr[z], p1 = nb_ptr[z + 1];
    for (int d = 0; d < nr; d++) {
      const double *__restrict Rd = &R[static_cast<size_t>(d) * ld];
      const int v0 = run[z * nr + d], nv = run[z * nr + d + 1] - v0;
      for (int lm = 0; lm < nv; lm += 4) {
        const double *rows[4];
        for (int k = 0; k < 4; k++) rows[k] = &Y[static_cast<size_t>(std::min(lm + k, nv - 1)) * ld];
        const vec4 a = project4(Rd, rows, p0, p1);
        std::memcpy(Av + v0 + lm, &a, sizeof(double) * std::min(4, nv - lm));
      }
    }
  }
  tick(3);
  return e;
}

/* One vecw holds an entry of the centres of a batch, one per lane. */
static_assert(SPARSEACE_LANES == SPARSEACE_VW, "a batch of centres fills the lanes of a vecw");

/* Products through the DAG of centre species zi for the LANES centres of a batch at once (AL,
   AAL, adjL, gAL: entry k of lane c at LANES k + c): forward over the inner nodes; the
   adjoint dE/dA (into gAL) by the reverse sweep as sums of gathered terms (rows of the sparse
   matrices of the header).  e_lane: the lanes' energies of the products. */
void PairSparseACE::products(int zi, double *e_lane)
{
  const SparseACEModel &M = model;
  const int *ip = &M.inner_ptr[3 * zi];
  const int lo = ip[0], n1 = ip[1], hi = ip[2];
  const int *fac = M.factor.data();
  const double *cf = M.coef.data();
  const double *__restrict Av = AL.data();
  double *__restrict P2 = AAL.data(), *__restrict ad = adjL.data(), *__restrict g = gAL.data();
  const SparseACERows &ipr = M.inner_by_parent;    // rows: parents, highest order first
  for (int k = lo; k < n1; k++) store(P2 + LANES * k, loadw(Av + LANES * fac[k]));
  for (int r = ipr.species_ptr[zi + 1] - 1; r >= ipr.species_ptr[zi]; r--) {
    const int c0 = ipr.col[ipr.start[r]], c1 = c0 + ipr.start[r + 1] - ipr.start[r];
    const vecw Pq = loadw(P2 + LANES * ipr.key[r]);
    for (int c = c0; c < c1; c++) store(P2 + LANES * c, Pq * loadw(Av + LANES * fac[c]));    // children
  }
  vecw e = {};
  if (eflag_either)
    for (int k = lo; k < hi; k++) e += cf[k] * loadw(P2 + LANES * k);
  tick(4);
  for (int k = lo; k < hi; k++) store(ad + LANES * k, cf[k] + vecw{});
  std::fill(gAL.begin(), gAL.end(), 0.0);
  // leaves, by parent q: dE/d(AA_q) += sum_leaf coef A[factor], dE/dA[factor] += coef AA_q;
  // their energy AA_q sum_leaf coef A[factor]
  const SparseACERows &lp = M.leaves_by_parent;
  const int *__restrict lcol = lp.col.data();
  const double *__restrict lcoef = lp.coef.data();
  for (int r = lp.species_ptr[zi]; r < lp.species_ptr[zi + 1]; r++) {
    const int q = lp.key[r];
    const vecw Pq = loadw(P2 + LANES * q);
    vecw s = {};
    for (int t = lp.start[r]; t < lp.start[r + 1]; t++) {
      const int v = lcol[t];
      s += lcoef[t] * loadw(Av + LANES * v);
      store(g + LANES * v, loadw(g + LANES * v) + lcoef[t] * Pq);
    }
    store(ad + LANES * q, loadw(ad + LANES * q) + s);
    if (eflag_either) e += s * Pq;
  }
  // inner nodes, highest order first (a child's adjoint is complete before its parent's row):
  // dE/d(AA_q) += sum_child dE/d(child) A[factor], dE/dA[factor] += dE/d(child) AA_q
  for (int r = ipr.species_ptr[zi]; r < ipr.species_ptr[zi + 1]; r++) {
    const int q = ipr.key[r], c0 = ipr.col[ipr.start[r]], c1 = c0 + ipr.start[r + 1] - ipr.start[r];
    const vecw Pq = loadw(P2 + LANES * q);
    vecw s = {};
    for (int c = c0; c < c1; c++) {
      const int v = fac[c];
      const vecw a = loadw(ad + LANES * c);
      s += a * loadw(Av + LANES * v);
      store(g + LANES * v, loadw(g + LANES * v) + a * Pq);
    }
    store(ad + LANES * q, loadw(ad + LANES * q) + s);
  }
  // dE/dA[v] of the order-1 nodes
  for (int k = lo; k < n1; k++) store(g + LANES * fac[k], loadw(g + LANES * fac[k]) + loadw(ad + LANES * k));
  for (int c = 0; c < LANES; c++) e_lane[c] = e[c];
  tick(5);
}

/* Forces of centre i on itself and its neighbours (and its energy e and virial) from dE/dA in
   gA and the arrays of centre_base. */
void PairSparseACE::centre_forces(int i, double e)
{
  double **f = atom->f;
  const SparseACEModel &M = model;
  const int nz = M.nz, ld = max_neigh, n = nb_ptr[nz];
  const int nlm = (M.lmax + 1) * (M.lmax + 1);
  const double *__restrict g = gA.data();

  // pair gradients dE_i/dr_ij = gu u + (angular part), BLOCK neighbours at a time in
  // registers: per lm, sums over the radial degree of dE/dA times dR (into gu with Y_lm) and
  // times R (gb, for the angular part).  A block may run past its species' neighbours (into
  // the next species', rewritten after, or the padding of the rows).
  const int *pptr = M.proj_ptr.data(), *pd = M.proj_d.data(), *pv = M.proj_v.data();
  for (int z = 0; z < nz; z++) {
    const int p1 = nb_ptr[z + 1];
    for (int pb = nb_ptr[z]; pb < p1; pb += BLOCK) {
      vecw su[NV], sa[NV], sb[NV];
      for (int c = 0; c < NV; c++) su[c] = loadw(&pair_g[pb + VW * c]);
      for (int l = 0, lm = 0; lm < nlm; l++) {
        // two lm of one l at a time (the same degrees: entries v and v + 1), the last alone
        for (; lm + 1 < (l + 1) * (l + 1); lm += 2) {
          vecw sa1[NV], sb1[NV];
          for (int c = 0; c < NV; c++) sa[c] = sb[c] = sa1[c] = sb1[c] = vecw{};
          for (int t = pptr[z * nlm + lm]; t < pptr[z * nlm + lm + 1]; t++) {
            const double gv = g[pv[t]], gv1 = g[pv[t] + 1];
            const double *Rd = &R[static_cast<size_t>(pd[t]) * ld + pb],
                         *dRd = &dR[static_cast<size_t>(pd[t]) * ld + pb];
            for (int c = 0; c < NV; c++) {
              const vecw dr = loadw(dRd + VW * c), r = loadw(Rd + VW * c);
              sa[c] += gv * dr;
              sb[c] += gv * r;
              sa1[c] += gv1 * dr;
              sb1[c] += gv1 * r;
            }
          }
          const double *Ylm = &Y[static_cast<size_t>(lm) * ld + pb];
          double *gbl = &gb[static_cast<size_t>(lm) * ld + pb];
          for (int c = 0; c < NV; c++) {
            su[c] += sa[c] * loadw(Ylm + VW * c) + sa1[c] * loadw(Ylm + ld + VW * c);
            store(gbl + VW * c, sb[c]);
            store(gbl + ld + VW * c, sb1[c]);
          }
        }
        for (int c = 0; c < NV; c++) sa[c] = sb[c] = vecw{};
        for (int t = pptr[z * nlm + lm]; t < pptr[z * nlm + lm + 1]; t++) {
          const double gv = g[pv[t]];
          const double *Rd = &R[static_cast<size_t>(pd[t]) * ld + pb],
                       *dRd = &dR[static_cast<size_t>(pd[t]) * ld + pb];
          for (int c = 0; c < NV; c++) {
            sa[c] += gv * loadw(dRd + VW * c);
            sb[c] += gv * loadw(Rd + VW * c);
          }
        }
        const double *Ylm = &Y[static_cast<size_t>(lm) * ld + pb];
        double *gbl = &gb[static_cast<size_t>(lm) * ld + pb];
        for (int c = 0; c < NV; c++) {
          su[c] += sa[c] * loadw(Ylm + VW * c);
          store(gbl + VW * c, sb[c]);
        }
        lm++;
      }
      for (int c = 0; c < NV; c++) store(&gu[pb + VW * c], su[c]);
    }
  }
  tick(6);
  harmonics_gradient(n);
  tick(7);

  // forces and virial
  double fi[3] = {0.0, 0.0, 0.0};
  for (int p = 0; p < n; p++) {
    const int j = nb_j[p];
    const double gv[3] = {gu[p] * ux[p] + w0[p], gu[p] * uy[p] + w1[p], gu[p] * uz[p] + w2[p]};
    fi[0] += gv[0];
    fi[1] += gv[1];
    fi[2] += gv[2];
    f[j][0] -= gv[0];
    f[j][1] -= gv[1];
    f[j][2] -= gv[2];
    if (vflag_atom) {
      const double r[3] = {rx[p], ry[p], rz[p]};
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
  tick(8);
}

/* Centres by species, in batches of up to LANES of one species: each its atomic base
   (centre_base), the batch's products and adjoint together (products, one centre per vector
   lane), then each its forces (centre_forces); a centre's arrays are kept in its lane between
   the two. */
void PairSparseACE::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  const int *type = atom->type;
  const int inum = list->inum;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  const int num_a = model.num_a;
  int centre[LANES];
  double e_base[LANES];

  by_species.clear();
  for (int z = 0; z < model.nz; z++)
    for (int ii = 0; ii < inum; ii++)
      if (type_species[type[ilist[ii]]] == z) by_species.push_back(ilist[ii]);
  const int ncentres = static_cast<int>(by_species.size());
  for (int k = 0; k < ncentres;) {
    const int zi = type_species[type[by_species[k]]];
    int nl = 0, need = 0;
    for (; k < ncentres && nl < LANES && type_species[type[by_species[k]]] == zi; k++) {
      need = std::max(need, numneigh[by_species[k]]);
      centre[nl++] = by_species[k];
    }
    grow(need);
    if (!profile_seconds.empty()) profile_clock = std::chrono::steady_clock::now();
    for (int c = 0; c < LANES; c++) {
      if (c < nl) {
        swap_lane(c);
        e_base[c] = centre_base(centre[c], zi);
        swap_lane(c);
      }
      for (int v = 0; v < num_a; v++) AL[LANES * v + c] = c < nl ? A[v] : 0.0;
    }
    double e[LANES];
    products(zi, e);
    for (int c = 0; c < nl; c++) {
      swap_lane(c);
      for (int v = 0; v < num_a; v++) gA[v] = gAL[LANES * v + c];
      centre_forces(centre[c], e_base[c] + e[c]);
      swap_lane(c);
      if (!profile_seconds.empty()) profile_seconds[N_PHASES] += 1.0;
    }
  }

  if (vflag_fdotr) virial_fdotr_compute();
}
