# allocation_postgres_cluster: for the tests and benchmarks that start a PostgreSQL cluster of their own
# (tests/support/postgres_cluster.hpp), with the directory of the server's programs. Debian keeps them under
# /usr/lib/postgresql/<version>/bin; elsewhere they are on the PATH. Without them the target does not exist, and
# what needs it is not built.
if(NOT TARGET allocation_postgres_cluster)
  file(GLOB allocation_postgres_bindirs /usr/lib/postgresql/*/bin)
  list(REVERSE allocation_postgres_bindirs)  # the newest version first
  find_program(ALLOCATION_POSTGRES_INITDB initdb HINTS ${allocation_postgres_bindirs})
  if(ALLOCATION_POSTGRES_INITDB)
    get_filename_component(allocation_postgres_bindir "${ALLOCATION_POSTGRES_INITDB}" DIRECTORY)
    add_library(allocation_postgres_cluster INTERFACE)
    target_include_directories(allocation_postgres_cluster INTERFACE ${PROJECT_SOURCE_DIR}/tests/support)
    target_compile_features(allocation_postgres_cluster INTERFACE cxx_std_20)
    target_compile_definitions(allocation_postgres_cluster INTERFACE
                               ALLOCATION_POSTGRES_BINDIR="${allocation_postgres_bindir}")
  else()
    message(WARNING "initdb was not found: what needs a PostgreSQL server of its own (tests, benchmarks) is not "
                    "built (apt-get install postgresql)")
  endif()
endif()
