#pragma once
// How an adaptor (differentiable(), make_posterior(), unconstrained()) keeps
// the object it wraps: a const reference to an lvalue, which the caller keeps
// alive, and its own copy of an rvalue, so a temporary passed in cannot
// dangle once the full-expression that made it ends.

#include <type_traits>

namespace diskmc::detail {

/// The member type for an adaptor built from an argument of forwarding type
/// `Argument` (`T&` for an lvalue, `T` for an rvalue): `const T&` or `T`.
template <class Argument>
using stored_t = std::conditional_t<std::is_lvalue_reference_v<Argument>, const std::remove_reference_t<Argument>&,
                                    std::remove_cvref_t<Argument>>;

/// Whether an adaptor whose member has type `Stored` may be built from an
/// argument of forwarding type `Argument`: a reference member only from an
/// lvalue (a temporary would be destroyed while the adaptor still refers to it).
template <class Stored, class Argument>
inline constexpr bool storable_from = !std::is_reference_v<Stored> || std::is_lvalue_reference_v<Argument>;

}  // namespace diskmc::detail
