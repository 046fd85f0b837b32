global using BookShelf.Grains.Interfaces;
global using BookShelf.Grains.Interfaces.Models;
global using Microsoft.Extensions.Logging;
global using Microsoft.Extensions.Options;
