# Warnings for this project's own targets only; consumers' flags are never touched.

# allocation_set_warnings(<target>)
function(allocation_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${ALLOCATION_WARNINGS_AS_ERRORS}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                                             $<$<BOOL:${ALLOCATION_WARNINGS_AS_ERRORS}>:-Werror>)
  endif()
endfunction()
