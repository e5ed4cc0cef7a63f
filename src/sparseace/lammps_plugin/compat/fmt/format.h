/* Stand-in for fmt/format.h, used by CMakeLists.txt only when the LAMMPS headers include
   "fmt/format.h" but the install lacks it (installs of LAMMPS 2021 and early 2022, e.g. Debian
   12's liblammps-dev: its liblammps.so carries its own fmt 7 as fmt::v7_lmp, whose headers are
   not installed; the system's fmt 9 lacks make_args_checked, which error.h and utils.h name).

   It declares only the names those headers mention, so that they compile.  Nothing here is
   defined: the pair style calls the std::string overloads of Error::all, which need no fmt, and
   a call of a formatting overload would fail to link (lmp_sparseace links every symbol). */

#ifndef SPARSEACE_FMT_STANDIN_H
#define SPARSEACE_FMT_STANDIN_H

#include <string_view>

namespace fmt {
using string_view = std::string_view;
struct format_args;
template <typename... Args, typename S, typename... T>
format_args make_args_checked(const S &, const T &...);
}    // namespace fmt

#endif
