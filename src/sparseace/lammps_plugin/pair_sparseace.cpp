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
  const int nlm = (lmax + 1) * (lmax + 1);
  t.keyword("radial_count");
  radial_count.resize(nz * (lmax + 1));
  for (auto &v : radial_count) v = t.integer("radial count", 0, n_radial);
  run_start.assign(nz * nlm + 1, 0);
  for (int s = 0; s < nz; s++)
    for (int lm = 0; lm < nlm; lm++) {
      const int l = static_cast<int>(std::sqrt(static_cast<double>(lm) + 0.5));
      run_start[s * nlm + lm + 1] = run_start[s * nlm + lm] + radial_count[s * (lmax + 1) + l];
    }
  num_a = run_start[nz * nlm];
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

  tr_mb.resize(nz * nz);
  tr_pair.resize(nz * nz);
  for (int k = 0; k < nz * nz; k++) {
    tr_mb[k].setup(rin, rcut, r0[k], mb_p, mb_q, mb_a);
    tr_pair[k].setup(rin, rcut, r0[k], pair_p, pair_q, pair_a);
  }
}

/* ---------------------------------------------------------------- pair style */

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

  const int L1 = model.lmax + 1;
  A.assign(model.num_a, 0.0);
  gA.assign(model.num_a, 0.0);
  AA.assign(model.factor.size(), 0.0);
  adj.assign(model.factor.size(), 0.0);
  hC.assign(L1, 0.0);
  hS.assign(L1, 0.0);
  hdC.assign(3 * L1, 0.0);
  hdS.assign(3 * L1, 0.0);
  hq.assign(L1 * L1, 0.0);
  hdq.assign(3 * L1 * L1, 0.0);
  hN.assign(L1 * L1, 0.0);
  ha.assign(L1 * L1, 0.0);
  hb.assign(L1 * L1, 0.0);
  for (int l = 0; l <= model.lmax; l++) {
    double fac = 1.0;    // (l-m)!/(l+m)!
    for (int m = 0; m <= l; m++) {
      if (m > 0) fac /= static_cast<double>((l + m) * (l - m + 1));
      hN[l * L1 + m] = std::sqrt((2 * l + 1) / (4.0 * M_PI) * fac);
      if (l >= m + 2) {
        ha[l * L1 + m] = static_cast<double>(2 * l - 1) / (l - m);
        hb[l * L1 + m] = static_cast<double>(l + m - 1) / (l - m);
      }
    }
  }
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
  bytes += sizeof(double) * (nb_r.capacity() + nb_u.capacity() + R.capacity() + dR.capacity() +
                             P.capacity() + dP.capacity() + Y.capacity() + dY.capacity());
  return bytes;
}

void PairSparseACE::grow(int nneigh)
{
  if (nneigh <= max_neigh) return;
  max_neigh = nneigh + nneigh / 2;
  const int nlm = (model.lmax + 1) * (model.lmax + 1);
  nb_j.resize(max_neigh);
  nb_z.resize(max_neigh);
  nb_r.resize(3 * max_neigh);
  nb_u.resize(3 * max_neigh);
  R.resize(static_cast<size_t>(max_neigh) * model.n_radial);
  dR.resize(static_cast<size_t>(max_neigh) * model.n_radial);
  P.resize(static_cast<size_t>(max_neigh) * model.pair_degree);
  dP.resize(static_cast<size_t>(max_neigh) * model.pair_degree);
  Y.resize(static_cast<size_t>(max_neigh) * nlm);
  dY.resize(static_cast<size_t>(max_neigh) * nlm * 3);
}

/* Radial functions and r-derivatives (radial.py: radial_functions). */
void PairSparseACE::radial(const SparseACETransform &t, const double *rec, int nfun,
                           bool poly_envelope, double r, double r0, double *out,
                           double *dout) const
{
  if (r >= t.rcut) {
    for (int k = 0; k < nfun; k++) out[k] = dout[k] = 0.0;
    return;
  }
  double x, dxdr, env, denv;
  t.eval(r, x, dxdr);
  if (poly_envelope) {
    const double w = 1.0 - x * x;
    env = w * w;
    denv = -4.0 * x * w * dxdr;
  } else {
    const double s = r / r0, sc = t.rcut / r0;
    env = 1.0 / (s * s) - 1.0 / (sc * sc) + 2.0 / (sc * sc * sc) * (s - sc);
    denv = (-2.0 / (s * s * s) + 2.0 / (sc * sc * sc)) / r0;
  }
  double pm2 = 0.0, pm1 = 1.0, dpm2 = 0.0, dpm1 = 0.0;
  for (int k = 0; k < nfun; k++) {
    double Pk, dPk;
    if (k == 0) {
      Pk = 1.0;
      dPk = 0.0;
    } else {
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

/* Real spherical harmonics Y (nlm) and gradients dY (nlm x 3) with respect to r at unit vector
   u, |r| = 1/inv_r (harmonics.py: real_harmonics, via solid harmonics). */
void PairSparseACE::harmonics(const double *u, double inv_r, double *Yo, double *dYo)
{
  const int L = model.lmax, L1 = L + 1;
  const double x = u[0], y = u[1], z = u[2];
  double *C = hC.data(), *S = hS.data(), *dC = hdC.data(), *dS = hdS.data();
  double *q = hq.data(), *dq = hdq.data();
  C[0] = 1.0;
  S[0] = 0.0;
  for (int c = 0; c < 3; c++) dC[c] = dS[c] = 0.0;
  for (int m = 1; m <= L; m++) {
    C[m] = x * C[m - 1] - y * S[m - 1];
    S[m] = x * S[m - 1] + y * C[m - 1];
    for (int c = 0; c < 3; c++) {
      dC[3 * m + c] = x * dC[3 * (m - 1) + c] - y * dS[3 * (m - 1) + c];
      dS[3 * m + c] = x * dS[3 * (m - 1) + c] + y * dC[3 * (m - 1) + c];
    }
    dC[3 * m] += C[m - 1];
    dC[3 * m + 1] -= S[m - 1];
    dS[3 * m] += S[m - 1];
    dS[3 * m + 1] += C[m - 1];
  }
  const double r2 = x * x + y * y + z * z;
  double dfact = 1.0;    // (2m-1)!!
  for (int m = 0; m <= L; m++) {
    if (m > 0) dfact *= (2 * m - 1);
    const int mm = m * L1 + m;
    q[mm] = dfact;
    dq[3 * mm] = dq[3 * mm + 1] = dq[3 * mm + 2] = 0.0;
    if (m + 1 <= L) {
      const int k = (m + 1) * L1 + m;
      q[k] = (2 * m + 1) * z * q[mm];
      dq[3 * k] = 0.0;
      dq[3 * k + 1] = 0.0;
      dq[3 * k + 2] = (2 * m + 1) * q[mm];
    }
    for (int l = m + 2; l <= L; l++) {
      const int k = l * L1 + m, k1 = (l - 1) * L1 + m, k2 = (l - 2) * L1 + m;
      const double a = ha[k], b = hb[k];
      q[k] = a * z * q[k1] - b * r2 * q[k2];
      for (int c = 0; c < 3; c++) dq[3 * k + c] = a * z * dq[3 * k1 + c] - b * r2 * dq[3 * k2 + c];
      dq[3 * k + 2] += a * q[k1];
      dq[3 * k] -= b * 2.0 * x * q[k2];
      dq[3 * k + 1] -= b * 2.0 * y * q[k2];
      dq[3 * k + 2] -= b * 2.0 * z * q[k2];
    }
  }
  const double sqrt2 = std::sqrt(2.0);
  for (int l = 0; l <= L; l++) {
    const int base = l * l + l;
    for (int m = 0; m <= l; m++) {
      const int k = l * L1 + m;
      const double N = hN[k];
      if (m == 0) {
        const double s = N * q[k];
        Yo[base] = s;
        for (int c = 0; c < 3; c++) dYo[3 * base + c] = (N * dq[3 * k + c] - l * s * u[c]) * inv_r;
      } else {
        const double f = sqrt2 * N;
        const double sc = f * q[k] * C[m], ss = f * q[k] * S[m];
        Yo[base + m] = sc;
        Yo[base - m] = ss;
        for (int c = 0; c < 3; c++) {
          const double gc = f * (dq[3 * k + c] * C[m] + q[k] * dC[3 * m + c]);
          const double gs = f * (dq[3 * k + c] * S[m] + q[k] * dS[3 * m + c]);
          dYo[3 * (base + m) + c] = (gc - l * sc * u[c]) * inv_r;
          dYo[3 * (base - m) + c] = (gs - l * ss * u[c]) * inv_r;
        }
      }
    }
  }
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

  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int zi = type_species[type[i]];
    if (zi < 0) continue;
    const int *jlist = firstneigh[i];
    const int jnum = numneigh[i];
    grow(jnum);

    // neighbours within the cutoff: geometry, radial and angular values
    int n = 0;
    for (int jj = 0; jj < jnum; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const int zj = type_species[type[j]];
      if (zj < 0) continue;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      const double rsq = dx * dx + dy * dy + dz * dz;
      if (rsq >= rcutsq) continue;
      const double d = std::sqrt(rsq);
      nb_j[n] = j;
      nb_z[n] = zj;
      double *r = &nb_r[3 * n], *u = &nb_u[3 * n];
      r[0] = dx;
      r[1] = dy;
      r[2] = dz;
      u[0] = dx / d;
      u[1] = dy / d;
      u[2] = dz / d;
      const int zz = zi * nz + zj;
      radial(M.tr_mb[zz], M.rec_mb.data(), nr, true, d, M.r0[zz], &R[n * nr], &dR[n * nr]);
      if (npd > 0)
        radial(M.tr_pair[zz], M.rec_pair.data(), npd, false, d, M.r0[zz], &P[n * npd],
               &dP[n * npd]);
      harmonics(u, 1.0 / d, &Y[static_cast<size_t>(n) * nlm], &dY[static_cast<size_t>(n) * nlm * 3]);
      n++;
    }

    // atomic base A, in runs of (neighbour species, lm) over the radial degree
    double *__restrict Av = A.data();
    const int *run = M.run_start.data();
    for (int v = 0; v < M.num_a; v++) Av[v] = 0.0;
    for (int p = 0; p < n; p++) {
      const int *rz = run + nb_z[p] * nlm;
      const double *__restrict Rp = &R[p * nr];
      const double *Yp = &Y[static_cast<size_t>(p) * nlm];
      for (int lm = 0; lm < nlm; lm++) {
        const double y = Yp[lm];
        double *__restrict a = Av + rz[lm];
        const int len = rz[lm + 1] - rz[lm];
        for (int d = 0; d < len; d++) a[d] += Rp[d] * y;
      }
    }

    // products through the DAG (forward), energy, and the adjoint dE/dA (reverse sweep)
    const int *op = &M.order_ptr[5 * zi];
    const int lo = op[0], n1 = op[1], hi = op[4];
    const int *par = M.parent.data(), *fac = M.factor.data();
    const double *cf = M.coef.data();
    double *__restrict P2 = AA.data(), *__restrict ad = adj.data(), *__restrict g = gA.data();
    for (int k = lo; k < n1; k++) P2[k] = Av[fac[k]];
    for (int k = n1; k < hi; k++) P2[k] = P2[par[k]] * Av[fac[k]];
    double e = M.eref[zi];
    for (int k = lo; k < hi; k++) {
      e += cf[k] * P2[k];
      ad[k] = cf[k];
    }
    for (int v = 0; v < M.num_a; v++) g[v] = 0.0;
    for (int k = hi - 1; k >= n1; k--) {
      const double a = ad[k];
      const int f = fac[k], q = par[k];
      g[f] += a * P2[q];
      ad[q] += a * Av[f];
    }
    for (int k = lo; k < n1; k++) g[fac[k]] += ad[k];

    // pair gradients dE_i/dr_ij: forces and virial
    double fi[3] = {0.0, 0.0, 0.0};
    for (int p = 0; p < n; p++) {
      const int zj = nb_z[p], j = nb_j[p];
      const double *u = &nb_u[3 * p], *r = &nb_r[3 * p];
      double gu = 0.0;    // coefficient of the unit vector: radial derivatives
      const double *w = &M.pair_weights[(zi * nz + zj) * npd];
      for (int qd = 0; qd < npd; qd++) {
        e += w[qd] * P[p * npd + qd];
        gu += w[qd] * dP[p * npd + qd];
      }
      double gt[3] = {0.0, 0.0, 0.0};    // angular derivatives
      const int *rz = run + zj * nlm;
      const double *__restrict Rp = &R[p * nr], *__restrict dRp = &dR[p * nr];
      const double *Yp = &Y[static_cast<size_t>(p) * nlm];
      const double *dYp = &dY[static_cast<size_t>(p) * nlm * 3];
      for (int lm = 0; lm < nlm; lm++) {
        const double *__restrict ga = g + rz[lm];
        const int len = rz[lm + 1] - rz[lm];
        double sa = 0.0, sb = 0.0;
        for (int d = 0; d < len; d++) {
          sa += ga[d] * dRp[d];
          sb += ga[d] * Rp[d];
        }
        gu += sa * Yp[lm];
        gt[0] += sb * dYp[3 * lm];
        gt[1] += sb * dYp[3 * lm + 1];
        gt[2] += sb * dYp[3 * lm + 2];
      }
      const double gv[3] = {gu * u[0] + gt[0], gu * u[1] + gt[1], gu * u[2] + gt[2]};
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
