" Vim filetype detection for the nn language: *.nn scripts.
autocmd BufRead,BufNewFile *.nn setfiletype nn
